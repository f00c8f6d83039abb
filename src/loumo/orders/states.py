"""The order and fulfilment state machines: every allowed move, and who may make it, in one place.

An order's lifecycle `status` moves explicitly (payment, cash acceptance, cancel, expiry, staff)
or is derived, once confirmed, as the least advanced of its live fulfilments (`derived_status`).
A move missing from these tables is refused with 409 `illegal_transition` naming both states.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from loumo.core.errors import Conflict


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PLACED = "placed"
    CONFIRMED = "confirmed"
    PREPARING = "preparing"
    READY = "ready"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class FulfilmentStatus(StrEnum):
    PENDING = "pending"
    PREPARING = "preparing"
    READY = "ready"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Actor(StrEnum):
    """Who makes a move: the buyer, staff, a shop manager, delivery, or the system itself
    (payment settlement, expiry, derivation from fulfilments)."""

    CUSTOMER = "customer"
    STAFF = "staff"
    MANAGER = "manager"
    DELIVERY = "delivery"
    SYSTEM = "system"


PAYMENT_METHODS = ("mobile_money", "card", "cash")
PREPAID_METHODS = frozenset({"mobile_money", "card"})


# (from, to) -> who may make the move.
ORDER_MOVES: dict[tuple[OrderStatus, OrderStatus], frozenset[Actor]] = {
    (OrderStatus.PENDING_PAYMENT, OrderStatus.CONFIRMED): frozenset(
        {Actor.SYSTEM}
    ),  # the money is in
    (OrderStatus.PENDING_PAYMENT, OrderStatus.EXPIRED): frozenset({Actor.SYSTEM}),
    (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED): frozenset({Actor.CUSTOMER, Actor.STAFF}),
    (OrderStatus.PLACED, OrderStatus.CONFIRMED): frozenset(
        {Actor.STAFF, Actor.SYSTEM}
    ),  # every shop accepted (cash)
    (OrderStatus.PLACED, OrderStatus.CANCELLED): frozenset({Actor.CUSTOMER, Actor.STAFF}),
    (OrderStatus.CONFIRMED, OrderStatus.PREPARING): frozenset({Actor.STAFF, Actor.SYSTEM}),
    (OrderStatus.CONFIRMED, OrderStatus.CANCELLED): frozenset({Actor.CUSTOMER, Actor.STAFF}),
    (OrderStatus.PREPARING, OrderStatus.READY): frozenset({Actor.STAFF, Actor.SYSTEM}),
    (OrderStatus.PREPARING, OrderStatus.CANCELLED): frozenset({Actor.STAFF}),
    (OrderStatus.READY, OrderStatus.OUT_FOR_DELIVERY): frozenset({Actor.DELIVERY, Actor.SYSTEM}),
    (OrderStatus.READY, OrderStatus.CANCELLED): frozenset({Actor.STAFF}),
    (OrderStatus.OUT_FOR_DELIVERY, OrderStatus.DELIVERED): frozenset(
        {Actor.DELIVERY, Actor.SYSTEM}
    ),
    (OrderStatus.DELIVERED, OrderStatus.COMPLETED): frozenset({Actor.SYSTEM, Actor.STAFF}),
}

FULFILMENT_MOVES: dict[tuple[FulfilmentStatus, FulfilmentStatus], frozenset[Actor]] = {
    (FulfilmentStatus.PENDING, FulfilmentStatus.PREPARING): frozenset({Actor.MANAGER, Actor.STAFF}),
    (FulfilmentStatus.PREPARING, FulfilmentStatus.READY): frozenset({Actor.MANAGER, Actor.STAFF}),
    (FulfilmentStatus.READY, FulfilmentStatus.OUT_FOR_DELIVERY): frozenset({Actor.DELIVERY}),
    (FulfilmentStatus.OUT_FOR_DELIVERY, FulfilmentStatus.DELIVERED): frozenset({Actor.DELIVERY}),
    (FulfilmentStatus.OUT_FOR_DELIVERY, FulfilmentStatus.FAILED): frozenset({Actor.DELIVERY}),
    # A failed attempt rescheduled by staff (through delivery): ready for the next one.
    (FulfilmentStatus.FAILED, FulfilmentStatus.READY): frozenset({Actor.DELIVERY}),
    (FulfilmentStatus.PENDING, FulfilmentStatus.CANCELLED): frozenset({Actor.SYSTEM}),
    (FulfilmentStatus.PREPARING, FulfilmentStatus.CANCELLED): frozenset({Actor.SYSTEM}),
    (FulfilmentStatus.READY, FulfilmentStatus.CANCELLED): frozenset({Actor.SYSTEM}),
}

# The lifecycle order of a live fulfilment, and the order status each one stands for.
FULFILMENT_PROGRESS = (
    FulfilmentStatus.PENDING,
    FulfilmentStatus.PREPARING,
    FulfilmentStatus.READY,
    FulfilmentStatus.OUT_FOR_DELIVERY,
    FulfilmentStatus.DELIVERED,
)
ORDER_STATUS_OF = {
    FulfilmentStatus.PENDING: OrderStatus.CONFIRMED,
    FulfilmentStatus.PREPARING: OrderStatus.PREPARING,
    FulfilmentStatus.READY: OrderStatus.READY,
    FulfilmentStatus.OUT_FOR_DELIVERY: OrderStatus.OUT_FOR_DELIVERY,
    FulfilmentStatus.DELIVERED: OrderStatus.DELIVERED,
}
# Order statuses whose lifecycle is driven by the fulfilments.
FOLLOWS_FULFILMENTS = frozenset(ORDER_STATUS_OF.values())
FINAL = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.EXPIRED})
# Before these, the goods have not left the shop: the order can still be cancelled.
CANCELLABLE = frozenset(frm for (frm, to) in ORDER_MOVES if to == OrderStatus.CANCELLED)


class IllegalTransition(Conflict):
    code, title = "illegal_transition", "Illegal transition"


def _check(
    kind: str,
    moves: dict[tuple[str, str], frozenset[Actor]],
    frm: str,
    to: str,
    actor: Actor,
) -> None:
    allowed = moves.get((frm, to))
    if allowed is None:
        raise IllegalTransition(
            f"A {kind} cannot move from {frm} to {to}", from_status=frm, to_status=to
        )
    if actor not in allowed:
        raise IllegalTransition(
            f"A {kind} in {frm} cannot be moved to {to} by {actor.value}",
            from_status=frm,
            to_status=to,
        )


def check_order_move(frm: str, to: str, actor: Actor) -> None:
    """Raise 409 `illegal_transition` unless `actor` may move an order from `frm` to `to`."""
    _check("order", ORDER_MOVES, frm, to, actor)  # type: ignore[arg-type]


def check_fulfilment_move(frm: str, to: str, actor: Actor) -> None:
    """Raise 409 `illegal_transition` unless `actor` may move a fulfilment from `frm` to `to`."""
    _check("fulfilment", FULFILMENT_MOVES, frm, to, actor)  # type: ignore[arg-type]


def derived_status(fulfilment_statuses: Iterable[str]) -> OrderStatus | None:
    """The least advanced live fulfilment, as an order status; None when none is live."""
    live = [FulfilmentStatus(s) for s in fulfilment_statuses if s in FULFILMENT_PROGRESS]
    if not live:
        return None
    return ORDER_STATUS_OF[min(live, key=FULFILMENT_PROGRESS.index)]


def is_prepaid(method: str) -> bool:
    return method in PREPAID_METHODS
