"""Closing a delivery with the customer's code, and the codes around it.

The agent closes with the code the customer reads out (`complete`): a wrong one is counted
(the fifth locks the code and alerts staff), a right one delivers the fulfilment (the order
once every fulfilment is) and records a cash order's money through the Payment service. Staff
reissue a code; the customer reads theirs (`delivery_codes`). The code itself (derived, never
stored) is `codes.py`.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.lookup import one_or_raise
from loumo.core.pagination import Page
from loumo.delivery import codes
from loumo.delivery.dispatch import (
    audit_delivery,
    cash_due,
)
from loumo.delivery.errors import (
    CodeExpired,
    CodeLocked,
    DeliveryNotFound,
    DeliveryStateConflict,
    WrongCode,
)
from loumo.delivery.models import Delivery
from loumo.delivery.moves import end_trip, fulfilment_of, order_of, staff_delivery
from loumo.delivery.notices import (
    alert_staff_locked,
)
from loumo.delivery.schemas import (
    DeliveryCode,
    DeliveryStatus,
)
from loumo.delivery.visibility import as_agent
from loumo.orders.errors import OrderNotFound
from loumo.orders.models import Order
from loumo.orders.queries import fulfilments_of
from loumo.orders.states import FulfilmentStatus
from loumo.payments.settlement import record_cash_payment


async def _collect_cash(
    session: AsyncSession, delivery: Delivery, order: Order, collector: str
) -> None:
    """A cash order: what this delivery collects; once every shop's part is delivered, the
    order's cash payment is recorded through the Payment service."""
    others = [f for f in await fulfilments_of(session, order.id) if f.id != delivery.fulfilment_id]
    settled_elsewhere = [
        f
        for f in others
        if f.status not in (FulfilmentStatus.DELIVERED, FulfilmentStatus.CANCELLED)
    ]
    if settled_elsewhere:
        amount = await cash_due(session, order, await fulfilment_of(session, delivery))
    else:
        before = await session.scalars(
            select(Delivery.cash_collected).where(
                Delivery.order_id == order.id,
                Delivery.id != delivery.id,
                Delivery.status == DeliveryStatus.DELIVERED,
            )
        )
        amount = max(0, order.total - sum(before))
    delivery.cash_collected = amount
    delivery.cash_due = amount
    await session.flush()
    if not settled_elsewhere:
        await record_cash_payment(session, order.id, order.total, collector)


async def _check_code(
    session: AsyncSession,
    principal: Principal,
    delivery: Delivery,
    code: str,
    *,
    secret_key: str,
    code_ttl: timedelta,
    meta: RequestMeta,
) -> None:
    """Refuse a locked, expired or wrong code. A wrong one is counted (one conditional UPDATE,
    at most `MAX_TRIES`; the fifth locks the code and alerts staff): `WrongCode` and
    `CodeLocked` keep their changes, so the count and the alert commit with the refusal, even
    inside the route's idempotent unit of work (which then frees the key)."""
    if delivery.code_tries >= codes.MAX_TRIES:
        raise CodeLocked("Too many wrong codes: staff must reissue the code")
    if codes.expired(delivery, code_ttl):
        raise CodeExpired("The closing code expired: staff must reissue it")
    if codes.matches(secret_key, delivery, code):
        return
    tries = await codes.count_wrong_try(session, delivery)
    if tries is None:
        raise CodeLocked("Too many wrong codes: staff must reissue the code")
    await audit_delivery(
        session, meta, principal.user_id, "delivery.wrong_code", delivery, tries=tries
    )
    if tries >= codes.MAX_TRIES:
        await alert_staff_locked(session, delivery, await order_of(session, delivery))
        raise CodeLocked("Too many wrong codes: staff must reissue the code", tries_left=0)
    raise WrongCode("Wrong closing code", tries_left=codes.MAX_TRIES - tries, field="code")


async def complete(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    code: str,
    *,
    secret_key: str,
    code_ttl: timedelta,
    meta: RequestMeta,
) -> Delivery:
    """The agent closes with the customer's code (a wrong one counted): the fulfilment is
    delivered (the order once all are), a cash order's money recorded, capacity freed."""
    delivery, _ = await as_agent(session, principal, delivery_id)
    if delivery.status != DeliveryStatus.OUT_FOR_DELIVERY:
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; only one out for delivery is closed",
            status=delivery.status,
        )
    await _check_code(
        session,
        principal,
        delivery,
        code,
        secret_key=secret_key,
        code_ttl=code_ttl,
        meta=meta,
    )
    await end_trip(session, principal, delivery, DeliveryStatus.DELIVERED, delivered_at=utcnow())
    order = await order_of(session, delivery)
    if order.payment_method == "cash":
        await _collect_cash(session, delivery, order, principal.user_id)
    await audit_delivery(
        session,
        meta,
        principal.user_id,
        "delivery.complete",
        delivery,
        cash_collected=delivery.cash_collected,
    )
    return delivery


async def reissue_code(
    session: AsyncSession, principal: Principal, delivery_id: str, *, meta: RequestMeta
) -> Delivery:
    """Staff issue a new closing code (the old one stops working; tries start again)."""
    delivery = await staff_delivery(session, delivery_id)
    if delivery.status != DeliveryStatus.OUT_FOR_DELIVERY:
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; codes exist while it is out",
            status=delivery.status,
        )
    await codes.reissue(session, delivery)
    await audit_delivery(
        session,
        meta,
        principal.user_id,
        "delivery.reissue_code",
        delivery,
        issue=delivery.code_issue,
    )
    return delivery


# --- the customer's code ------------------------------------------------------------------------


async def delivery_codes(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    *,
    secret_key: str,
    code_ttl: timedelta,
) -> Page[DeliveryCode]:
    """The closing codes of the caller's own order while it is out (one per shop delivering);
    404 for any other order, or when nothing is out."""
    order = await one_or_raise(
        session,
        select(Order).where(Order.id == order_id, Order.user_id == principal.user_id),
        OrderNotFound(f"No order {order_id}"),
    )
    out = list(
        await session.scalars(
            select(Delivery)
            .where(
                Delivery.order_id == order.id,
                Delivery.status == DeliveryStatus.OUT_FOR_DELIVERY,
            )
            .order_by(Delivery.id)
            .execution_options(populate_existing=True)
        )
    )
    if not out:
        raise DeliveryNotFound("No delivery of this order is out; the code appears once it is")
    return Page(
        items=[
            DeliveryCode(
                delivery_id=d.id,
                code=codes.derive(secret_key, d.id, d.code_issue),
                expires_at=codes.expires_at(d, code_ttl),
                locked=d.code_tries >= codes.MAX_TRIES,
            )
            for d in out
        ],
        next_cursor=None,
    )
