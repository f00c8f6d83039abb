"""How an order ends: cancelled (by its buyer or staff), expired (unpaid past
`ORDER_PAYMENT_TIMEOUT`), or completed (`ORDER_COMPLETE_AFTER` after delivery, or by staff),
each exactly once. Cancel and expiry give stock and the promotion use back; completion awards
the order's fidelity points (`fidelity.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.errors import PermissionDenied
from loumo.jobs.outbox import defer
from loumo.orders import WRITE, fidelity
from loumo.orders.job_names import ORDER_CANCELLED_JOB
from loumo.orders.lifecycle import move_fulfilment_row, move_order, release_holds
from loumo.orders.models import Order
from loumo.orders.notices import tell_customer, tell_managers
from loumo.orders.queries import fulfilments_of
from loumo.orders.reading import audit_order, get_visible, order_read
from loumo.orders.schemas import OrderRead
from loumo.orders.states import (
    Actor,
    FulfilmentStatus,
    IllegalTransition,
    OrderStatus,
    PaymentStatus,
    check_order_move,
)

LIVE_FULFILMENTS = (FulfilmentStatus.PENDING, FulfilmentStatus.PREPARING, FulfilmentStatus.READY)


async def _close_fulfilments(
    session: AsyncSession, order: Order, *, tell: bool, actor: Actor, actor_id: str | None
) -> None:
    for fulfilment in await fulfilments_of(session, order.id):
        if fulfilment.status not in LIVE_FULFILMENTS:
            continue
        if not await move_fulfilment_row(
            session, fulfilment, FulfilmentStatus.CANCELLED, actor=actor, actor_id=actor_id
        ):
            continue
        if tell:
            await tell_managers(session, order, fulfilment, "cancelled")


async def cancel(
    session: AsyncSession, order: Order, *, actor: Actor, actor_id: str | None, reason: str
) -> None:
    """Cancel once: the conditional UPDATE on the status decides, then stock and the promotion
    use go back, the shops and the buyer are told, and payments learn of it (outbox)."""
    frm = order.status
    check_order_move(frm, OrderStatus.CANCELLED, actor)
    money = order.payment_status != PaymentStatus.UNPAID or order.payment_in_flight
    # Shops were told about a cash order at once, about a prepaid one once paid.
    shops_knew = frm != OrderStatus.PENDING_PAYMENT
    if not await move_order(
        session,
        order,
        frm,
        OrderStatus.CANCELLED,
        actor=actor,
        actor_id=actor_id,
        reason=reason,
        cancelled_at=utcnow(),
    ):
        raise IllegalTransition(
            f"The order moved on from {frm} meanwhile; it cannot be cancelled now",
            from_status=frm,
            to_status=OrderStatus.CANCELLED,
        )
    await release_holds(session, order, actor_id=actor_id)
    await _close_fulfilments(session, order, tell=shops_knew, actor=actor, actor_id=actor_id)
    if money:
        await defer(session, ORDER_CANCELLED_JOB, {"order_id": order.id})
    await tell_customer(session, order, OrderStatus.CANCELLED, reason=reason)


async def cancel_order(
    session: AsyncSession, principal: Principal, order_id: str, *, reason: str, meta: RequestMeta
) -> OrderRead:
    """The buyer cancels before preparing; staff (`orders:write`) before it leaves."""
    order = await get_visible(session, principal, order_id)
    if order.user_id == principal.user_id:
        actor = Actor.CUSTOMER
    elif principal.has(WRITE):
        actor = Actor.STAFF
    else:
        raise PermissionDenied("Only the buyer or staff may cancel an order")
    await cancel(session, order, actor=actor, actor_id=principal.user_id, reason=reason)
    if actor is Actor.STAFF:
        await audit_order(session, meta, principal, "order.cancel", order, reason=reason)
    return await order_read(session, order)


async def expire_due(
    session: AsyncSession, *, now: datetime | None = None, batch: int = 200
) -> int:
    """Expire unpaid orders past `expires_at` with no payment in flight; returns how many."""
    now = now or utcnow()
    due = list(
        await session.scalars(
            select(Order.id)
            .where(
                Order.status == OrderStatus.PENDING_PAYMENT,
                Order.expires_at <= now,
                Order.payment_in_flight.is_(False),
            )
            .order_by(Order.expires_at)
            .limit(batch)
        )
    )
    expired = 0
    for order_id in due:
        order = await session.get(Order, order_id, populate_existing=True)
        if order is None:
            continue
        if not await move_order(
            session,
            order,
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.EXPIRED,
            actor=Actor.SYSTEM,
            reason="not paid in time",
            where=(Order.payment_in_flight.is_(False), Order.expires_at <= now),
        ):
            continue  # paid, cancelled or a payment started meanwhile
        await release_holds(session, order, actor_id=None)
        await _close_fulfilments(session, order, tell=False, actor=Actor.SYSTEM, actor_id=None)
        await tell_customer(session, order, OrderStatus.EXPIRED)
        expired += 1
    return expired


async def complete(
    session: AsyncSession,
    order: Order,
    *,
    actor: Actor,
    actor_id: str | None,
    fidelity_rate: Decimal,
    reason: str = "",
    where: Sequence[ColumnElement[bool]] = (),
) -> bool:
    """`delivered` → `completed`, once (the conditional UPDATE decides; False when another
    request or job completed it first), then the order's fidelity points are awarded at
    `fidelity_rate` and the buyer is told. The one way to complete an order: the job and staff
    both come here."""
    check_order_move(order.status, OrderStatus.COMPLETED, actor)
    if not await move_order(
        session,
        order,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        actor=actor,
        actor_id=actor_id,
        reason=reason,
        where=where,
        completed_at=utcnow(),
    ):
        return False
    points = await fidelity.award_for_completion(session, order, rate=fidelity_rate)
    await tell_customer(
        session,
        order,
        OrderStatus.COMPLETED,
        points_fr=f"Vous gagnez {points} point(s) de fidélité." if points else "",
        points_en=f"You earned {points} fidelity point(s)." if points else "",
    )
    return True


async def complete_due(
    session: AsyncSession,
    *,
    after: timedelta,
    fidelity_rate: Decimal,
    now: datetime | None = None,
    batch: int = 200,
) -> int:
    """Complete orders delivered at least `after` (`ORDER_COMPLETE_AFTER`) ago; returns how
    many."""
    cutoff = (now or utcnow()) - after
    due = list(
        await session.scalars(
            select(Order.id)
            .where(Order.status == OrderStatus.DELIVERED, Order.delivered_at <= cutoff)
            .order_by(Order.delivered_at)
            .limit(batch)
        )
    )
    completed = 0
    for order_id in due:
        order = await session.get(Order, order_id, populate_existing=True)
        if order is None or order.status != OrderStatus.DELIVERED:
            continue  # staff completed it meanwhile
        if await complete(
            session,
            order,
            actor=Actor.SYSTEM,
            actor_id=None,
            fidelity_rate=fidelity_rate,
            reason="delivered and not disputed in time",
            where=(Order.delivered_at <= cutoff,),
        ):
            completed += 1
    return completed
