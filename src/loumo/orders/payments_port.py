"""What `payments` may read and do to orders (orders never import payments).

The contract is `/work/wt/ORDERS_PAYMENTS_CONTRACT.md`: payable orders, settling a payment,
noting a failure, and the refund arithmetic of DESIGN.md (a line gives back its total less its
pro-rata share of the discount; the delivery fee comes back only with a full refund; never
more than paid minus already refunded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.auth import Principal
from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.errors import BadRequest, Conflict, NotFound
from loumo.orders import READ, fidelity
from loumo.orders.lifecycle import (
    add_event,
    fulfilments_of,
    items_of,
    sell_fulfilment,
    tell_customer,
    tell_managers,
)
from loumo.orders.models import Order, OrderItem, OrderRefund
from loumo.orders.states import Actor, OrderStatus, PaymentStatus, is_prepaid
from loumo.shops import ledger


class OrderNotFound(NotFound):
    code, title = "not_found", "Order not found"


class OrderNotPayable(Conflict):
    code, title = "order_not_payable", "Order not payable"


class RefundExceedsPaid(Conflict):
    code, title = "refund_exceeds_paid", "Refund exceeds what was paid"


class RefundQuantityExceeded(Conflict):
    code, title = "refund_quantity_exceeded", "Refund quantity exceeds what is left"


class UnknownOrderItem(BadRequest):
    code, title = "unknown_order_item", "Unknown order item"


@dataclass(frozen=True)
class PayableOrder:
    id: str
    reference: str
    user_id: str
    status: str
    payment_status: str
    payment_method: str
    currency: str
    total: int
    refunded: int
    contact_phone: str | None
    customer_email: str
    customer_language: str


@dataclass(frozen=True)
class RefundLineRequest:
    item_id: str
    quantity: int
    restock: bool


@dataclass(frozen=True)
class RefundPlan:
    order_id: str
    amount: int
    currency: str
    full: bool
    lines: tuple[RefundLineRequest, ...]


async def _payable(session: AsyncSession, order_id: str, *, user_id: str | None) -> PayableOrder:
    query = select(Order, User.email, User.language).join(User, User.id == Order.user_id)
    query = query.where(Order.id == order_id)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    row = (await session.execute(query.execution_options(populate_existing=True))).first()
    if row is None:
        raise OrderNotFound(f"No order {order_id}")
    order, email, language = row
    return PayableOrder(
        id=order.id,
        reference=order.reference,
        user_id=order.user_id,
        status=order.status,
        payment_status=order.payment_status,
        payment_method=order.payment_method,
        currency=order.currency,
        total=order.total,
        refunded=order.refunded,
        contact_phone=order.contact_phone,
        customer_email=email,
        customer_language=language if language in ("fr", "en") else "fr",
    )


async def get_own_order_for_payment(
    session: AsyncSession, principal: Principal, order_id: str
) -> PayableOrder:
    """The caller's own order awaiting money; 404 for any other, 409 when it is not payable."""
    order = await _payable(session, order_id, user_id=principal.user_id)
    if order.status != OrderStatus.PENDING_PAYMENT or order.payment_status != PaymentStatus.UNPAID:
        raise OrderNotPayable(
            f"Order {order.reference} is {order.status} and {order.payment_status}: "
            "it does not await a payment"
        )
    return order


async def get_order_for_staff(
    session: AsyncSession, principal: Principal, order_id: str
) -> PayableOrder:
    """Any order, for staff holding `orders:read` (404 for others, as for an unknown order)."""
    if not principal.has(READ):
        raise OrderNotFound(f"No order {order_id}")
    return await _payable(session, order_id, user_id=None)


async def get_payable_order(session: AsyncSession, order_id: str) -> PayableOrder:
    """Any order, without ownership: for jobs and webhooks."""
    return await _payable(session, order_id, user_id=None)


async def set_payment_in_flight(session: AsyncSession, order_id: str, in_flight: bool) -> None:
    """Mark a payment attempt under way (expiry skips the order) or over."""
    await session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(payment_in_flight=in_flight, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def _load(session: AsyncSession, order_id: str) -> Order:
    order = await session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFound(f"No order {order_id}")
    return order


async def settle_payment(
    session: AsyncSession,
    order_id: str,
    *,
    payment_id: str,
    amount: int,
    currency: str,
    method: str,
) -> bool:
    """The provider's authenticated word says the money is in: True when the order took it.

    Prepaid: `pending_payment/unpaid` → `confirmed/paid` in one conditional UPDATE, then every
    line's stock becomes a sale, the customer gets the receipt, the shops are told to prepare.
    Cash (recorded at delivery): `payment_status` → paid. False when the order cannot take the
    money (paid by another payment, cancelled, expired, other amount or currency). Idempotent
    for the same `payment_id`.
    """
    order = await _load(session, order_id)
    if order.paid_payment_id == payment_id:
        return True
    now = utcnow()
    values: dict[str, Any] = {
        "payment_status": PaymentStatus.PAID.value,
        "paid_payment_id": payment_id,
        "paid_amount": amount,
        "paid_at": now,
        "payment_in_flight": False,
        "updated_at": now,
    }
    takes: tuple[ColumnElement[bool], ...] = (
        Order.id == order.id,
        Order.payment_status == PaymentStatus.UNPAID,
        Order.paid_payment_id.is_(None),
        Order.total == amount,
        Order.currency == currency,
    )
    prepaid = is_prepaid(order.payment_method)
    if prepaid:  # the money confirms the order
        values["status"] = OrderStatus.CONFIRMED.value
        takes += (Order.status == OrderStatus.PENDING_PAYMENT,)
    else:  # cash, collected at delivery
        takes += (Order.status.not_in([OrderStatus.CANCELLED, OrderStatus.EXPIRED]),)
    taken = await session.execute(
        update(Order).where(*takes).values(**values).execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    order = await _load(session, order_id)
    if prepaid:
        await add_event(
            session,
            order.id,
            kind="status",
            actor=Actor.SYSTEM,
            from_status=OrderStatus.PENDING_PAYMENT,
            to_status=OrderStatus.CONFIRMED,
            reason=f"paid by {method}",
        )
        for fulfilment in await fulfilments_of(session, order.id):
            await sell_fulfilment(session, fulfilment, actor_id=None)
            await tell_managers(session, order, fulfilment, "prepare")
    await add_event(
        session,
        order.id,
        kind="payment",
        actor=Actor.SYSTEM,
        reason=f"{method} payment {payment_id} succeeded",
        data={"payment_id": payment_id, "amount": amount, "currency": currency},
    )
    await tell_customer(session, order, "paid")
    return True


async def note_payment_failed(
    session: AsyncSession, order_id: str, *, payment_id: str, reason: str
) -> None:
    """A payment attempt failed: timeline, customer told; the order stays payable until expiry."""
    order = await _load(session, order_id)
    await add_event(
        session,
        order.id,
        kind="payment_failed",
        actor=Actor.SYSTEM,
        reason=reason,
        data={"payment_id": payment_id},
    )
    if order.status == OrderStatus.PENDING_PAYMENT:
        expires = order.expires_at.strftime("%H:%M UTC") if order.expires_at else "-"
        await tell_customer(session, order, "payment_failed", expires=expires)


# --- refunds ----------------------------------------------------------------------------------


def line_refund_amount(item: OrderItem, quantity: int) -> int:
    """What `quantity` more units of the line give back: the line's net (total less its share of
    the discount) pro rata, the last unit taking the rounding remainder, so a line refunded in
    several steps gives back exactly its net."""
    net = item.line_total - item.discount_share
    if item.refunded_quantity + quantity >= item.quantity:
        return net - item.refunded_amount
    return net * quantity // item.quantity


async def plan_refund(
    session: AsyncSession, order_id: str, lines: Sequence[RefundLineRequest] | None
) -> RefundPlan:
    """The refund of the whole remaining order (`lines=None`) or of some lines."""
    order = await _load(session, order_id)
    remaining = order.paid_amount - order.refunded
    if remaining <= 0:
        raise RefundExceedsPaid(f"Nothing paid on order {order.reference} is left to refund")
    items = await items_of(session, order.id)
    if lines is None:
        whole = tuple(
            RefundLineRequest(item.id, item.quantity - item.refunded_quantity, restock=False)
            for item in items
            if item.quantity > item.refunded_quantity
        )
        return RefundPlan(order.id, remaining, order.currency, True, whole)
    by_id = {item.id: item for item in items}
    wanted: dict[str, int] = {}
    for line in lines:
        if line.item_id not in by_id:
            raise UnknownOrderItem(f"Order {order.reference} has no item {line.item_id}")
        if line.quantity <= 0:
            raise BadRequest("A refunded quantity is positive")
        wanted[line.item_id] = wanted.get(line.item_id, 0) + line.quantity
    amount = 0
    for item_id, quantity in wanted.items():
        item = by_id[item_id]
        left = item.quantity - item.refunded_quantity
        if quantity > left:
            raise RefundQuantityExceeded(
                f"Only {left} of item {item_id} can still be refunded", item_id=item_id
            )
        amount += line_refund_amount(item, quantity)
    if amount > remaining:
        raise RefundExceedsPaid(f"{amount} is more than the {remaining} left to refund")
    return RefundPlan(order.id, amount, order.currency, False, tuple(lines))


async def apply_refund(
    session: AsyncSession, order_id: str, plan: RefundPlan, *, refund_id: str
) -> None:
    """Record a refund the provider accepted: amounts, quantities, restock, the share of the
    order's fidelity points it takes back, timeline, customer told. Idempotent per
    `refund_id`."""
    order = await _load(session, order_id)
    recorded = await session.execute(
        insert_ignoring_conflicts(session, OrderRefund.__table__, index_elements=["refund_id"])
        .values(
            refund_id=refund_id,
            order_id=order.id,
            amount=plan.amount,
            full=plan.full,
            lines=[
                {"item_id": x.item_id, "quantity": x.quantity, "restock": x.restock}
                for x in plan.lines
            ],
            created_at=utcnow(),
        )
        .returning(OrderRefund.refund_id)
    )
    if recorded.first() is None:
        return
    counted = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.refunded + plan.amount <= Order.paid_amount)
        .values(refunded=Order.refunded + plan.amount, updated_at=utcnow())
        .returning(Order.refunded, Order.paid_amount)
        .execution_options(synchronize_session=False)
    )
    row = counted.first()
    if row is None:
        raise RefundExceedsPaid(f"Refund {refund_id} is more than what is left on the order")
    refunded, paid = int(row[0]), int(row[1])
    status = PaymentStatus.REFUNDED if refunded >= paid else PaymentStatus.PARTIALLY_REFUNDED
    await session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(payment_status=status.value)
        .execution_options(synchronize_session=False)
    )
    items = {item.id: item for item in await items_of(session, order.id)}
    sold = {f.id for f in await fulfilments_of(session, order.id) if f.accepted_at is not None}
    goods_refunded = 0
    for line in plan.lines:
        item = items.get(line.item_id)
        if item is None:
            continue
        quantity = min(line.quantity, item.quantity - item.refunded_quantity)
        if quantity <= 0:
            continue
        amount = line_refund_amount(item, quantity)
        goods_refunded += amount
        item.refunded_amount += amount
        item.refunded_quantity += quantity
        if line.restock and item.fulfilment_id in sold:
            await ledger.apply_delta(
                session,
                item.shop_id,
                item.variant_id,
                quantity,
                kind="return",
                reason=f"refund {refund_id}",
                actor_user_id=None,
            )
    await session.flush()
    await fidelity.take_back_for_refund(
        session, order, refund_id=refund_id, goods_refunded=goods_refunded
    )
    await add_event(
        session,
        order.id,
        kind="refund",
        actor=Actor.SYSTEM,
        reason=f"refund {refund_id}",
        data={"refund_id": refund_id, "amount": plan.amount, "full": plan.full},
    )
    order = await _load(session, order_id)
    await tell_customer(session, order, "refunded", amount_minor=plan.amount)


__all__ = [
    "OrderNotPayable",
    "PayableOrder",
    "RefundLineRequest",
    "RefundPlan",
    "apply_refund",
    "get_order_for_staff",
    "get_own_order_for_payment",
    "get_payable_order",
    "note_payment_failed",
    "plan_refund",
    "set_payment_in_flight",
    "settle_payment",
]
