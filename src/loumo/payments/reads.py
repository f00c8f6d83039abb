"""Reading payments and refunds: your own, or any with `payments:read`; not yours is a 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.auth import Principal
from loumo.core.errors import NotFound
from loumo.core.pagination import Page
from loumo.orders import payments_port as orders
from loumo.payments.errors import PaymentNotFound
from loumo.payments.models import Payment, Refund
from loumo.payments.permissions import READ_PERMISSION
from loumo.payments.schemas import PaymentRead, RefundRead


def _visible(principal: Principal) -> Any:
    """The one ownership rule: your own payments, or every payment with `payments:read`."""
    if principal.has(READ_PERMISSION):
        return True
    return Payment.user_id == principal.user_id


async def get_payment(session: AsyncSession, principal: Principal, payment_id: str) -> Payment:
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id, _visible(principal))
    )
    if payment is None:
        raise PaymentNotFound(f"No payment {payment_id}")
    return payment


async def list_order_payments(
    session: AsyncSession, principal: Principal, order_id: str
) -> Page[PaymentRead]:
    """The payments of an order of yours (or any order, with `payments:read`), newest first."""
    try:
        order = await orders.get_payable_order(session, order_id)
    except NotFound:
        order = None
    if order is None or not (order.user_id == principal.user_id or principal.has(READ_PERMISSION)):
        raise NotFound(f"No order {order_id}")
    rows = await session.scalars(
        select(Payment)
        .where(Payment.order_id == order_id)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    )
    return Page(items=[PaymentRead.model_validate(row) for row in rows])


async def list_refunds(
    session: AsyncSession, principal: Principal, payment_id: str
) -> Page[RefundRead]:
    payment = await get_payment(session, principal, payment_id)
    rows = await session.scalars(
        select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.created_at.desc())
    )
    return Page(items=[RefundRead.model_validate(row) for row in rows])
