"""Refunds as orders see them, with DESIGN.md's arithmetic: a line gives back its total less
its pro-rata share of the discount (the last unit taking the rounding remainder); the delivery
fee comes back only with a full refund; never more than paid minus already refunded. Applying a
refund the provider accepted records it once, restocks what staff chose, and takes back its
share of the order's fidelity points. Payments reach this through `payments_port.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.errors import BadRequest
from loumo.orders import fidelity
from loumo.orders.errors import RefundExceedsPaid, RefundQuantityExceeded, UnknownOrderItem
from loumo.orders.lifecycle import note_money
from loumo.orders.models import Order, OrderItem, OrderRefund
from loumo.orders.queries import fulfilments_of, items_of, load_order
from loumo.orders.states import PaymentStatus
from loumo.shops import ledger


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

    def stored_lines(self) -> list[dict[str, Any]]:
        """The lines as a refund row stores them: `{item_id, quantity, restock}` each."""
        return [asdict(line) for line in self.lines]


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
    order = await load_order(session, order_id)
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
    order = await load_order(session, order_id)
    recorded = await session.execute(
        insert_ignoring_conflicts(session, OrderRefund.__table__, index_elements=["refund_id"])
        .values(
            refund_id=refund_id,
            order_id=order.id,
            amount=plan.amount,
            full=plan.full,
            lines=plan.stored_lines(),
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
    await note_money(
        session,
        await load_order(session, order_id),
        kind="refund",
        reason=f"refund {refund_id}",
        data={"refund_id": refund_id, "amount": plan.amount, "full": plan.full},
        tell="refunded",
        amount_minor=plan.amount,
    )
