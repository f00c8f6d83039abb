"""What `payments` may read and do to orders (orders never import payments).

The contract is `/work/wt/ORDERS_PAYMENTS_CONTRACT.md`: payable orders, settling a payment,
noting a failure, and refunds (planned and applied by `refunds.py`, with DESIGN.md's
arithmetic, and offered here with their errors so that payments imports one module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.once import rows_changed
from loumo.core.rows import from_row
from loumo.orders import READ
from loumo.orders.errors import (
    OrderNotFound,
    OrderNotPayable,
    RefundExceedsPaid,
    RefundQuantityExceeded,
    UnknownOrderItem,
)
from loumo.orders.lifecycle import add_event, new_event, note_money, sell_fulfilment
from loumo.orders.models import Order
from loumo.orders.notices import tell_customer, tell_managers
from loumo.orders.queries import fulfilments_of, load_order
from loumo.orders.refunds import (
    RefundLineRequest,
    RefundPlan,
    apply_refund,
    line_refund_amount,
    plan_refund,
)
from loumo.orders.states import Actor, OrderStatus, PaymentStatus, is_prepaid


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


async def _payable(session: AsyncSession, order_id: str, *, user_id: str | None) -> PayableOrder:
    query = select(Order, User.email, User.language).join(User, User.id == Order.user_id)
    query = query.where(Order.id == order_id)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    row = (await session.execute(query.execution_options(populate_existing=True))).first()
    if row is None:
        raise OrderNotFound(f"No order {order_id}")
    order, email, language = row
    return from_row(
        PayableOrder,
        order,
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
    order = await load_order(session, order_id)
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
    if await rows_changed(session, update(Order).where(*takes).values(**values)) != 1:
        return False
    order = await load_order(session, order_id)
    if prepaid:
        await add_event(
            session,
            new_event(
                order.id,
                kind="status",
                actor=Actor.SYSTEM,
                from_status=OrderStatus.PENDING_PAYMENT,
                to_status=OrderStatus.CONFIRMED,
                reason=f"paid by {method}",
            ),
        )
        for fulfilment in await fulfilments_of(session, order.id):
            await sell_fulfilment(session, fulfilment, actor_id=None)
            await tell_managers(session, order, fulfilment, "prepare")
    await note_money(
        session,
        order,
        kind="payment",
        reason=f"{method} payment {payment_id} succeeded",
        data={"payment_id": payment_id, "amount": amount, "currency": currency},
        tell="paid",
    )
    return True


async def note_payment_failed(
    session: AsyncSession, order_id: str, *, payment_id: str, reason: str
) -> None:
    """A payment attempt failed: timeline, customer told; the order stays payable until expiry."""
    order = await load_order(session, order_id)
    await add_event(
        session,
        new_event(
            order.id,
            kind="payment_failed",
            actor=Actor.SYSTEM,
            reason=reason,
            data={"payment_id": payment_id},
        ),
    )
    if order.status == OrderStatus.PENDING_PAYMENT:
        expires = order.expires_at.strftime("%H:%M UTC") if order.expires_at else "-"
        await tell_customer(session, order, "payment_failed", expires=expires)


__all__ = [
    "OrderNotFound",
    "OrderNotPayable",
    "PayableOrder",
    "RefundExceedsPaid",
    "RefundLineRequest",
    "RefundPlan",
    "RefundQuantityExceeded",
    "UnknownOrderItem",
    "apply_refund",
    "get_order_for_staff",
    "get_own_order_for_payment",
    "get_payable_order",
    "line_refund_amount",
    "note_payment_failed",
    "plan_refund",
    "set_payment_in_flight",
    "settle_payment",
]
