"""The moves themselves: one conditional UPDATE per move with its timeline event, stock and the
promotion use given back or sold exactly once, and the order's status derived from its
fulfilments. Who is told about a move is `notices.py`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.core.once import update_if
from loumo.orders.models import Fulfilment, Order, OrderEvent, OrderItem
from loumo.orders.notices import tell_customer
from loumo.orders.queries import fulfilment_items, fulfilments_of, items_of
from loumo.orders.states import (
    FOLLOWS_FULFILMENTS,
    Actor,
    OrderStatus,
    derived_status,
)
from loumo.promotions import uses as promotion_uses
from loumo.shops import ledger, reservations


def new_event(
    order_id: str,
    *,
    kind: str,
    actor: Actor,
    actor_id: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str = "",
    fulfilment_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """One timeline entry (who, when, from, to, why), not yet written."""
    return OrderEvent(
        order_id=order_id,
        fulfilment_id=fulfilment_id,
        kind=kind,
        actor_id=actor_id,
        actor_kind=actor.value,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data=data or {},
    )


async def add_event(session: AsyncSession, event: OrderEvent) -> OrderEvent:
    """Write one timeline entry made by `new_event`."""
    session.add(event)
    await session.flush()
    return event


async def _move(
    session: AsyncSession,
    row: Order | Fulfilment,
    frm: str,
    to: str,
    *where: ColumnElement[bool],
    actor: Actor,
    actor_id: str | None,
    reason: str,
    **values: Any,
) -> bool:
    """One conditional UPDATE of `row` from `frm` to `to` (plus `values`, if `where` also
    holds) with its timeline entry; False when another request moved it first."""
    if not await update_if(
        session, row, type(row).status == frm, *where, status=to, updated_at=utcnow(), **values
    ):
        return False
    fulfilment = row if isinstance(row, Fulfilment) else None
    event = new_event(
        fulfilment.order_id if fulfilment else row.id,
        kind="fulfilment" if fulfilment else "status",
        fulfilment_id=fulfilment.id if fulfilment else None,
        actor=actor,
        actor_id=actor_id,
        from_status=frm,
        to_status=to,
        reason=reason,
    )
    await add_event(session, event)
    return True


async def move_order(
    session: AsyncSession,
    order: Order,
    frm: str,
    to: str,
    *,
    actor: Actor,
    actor_id: str | None = None,
    reason: str = "",
    where: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """One conditional UPDATE from `frm` to `to` (plus `values`, if `where` also holds); False
    when another request moved the order first. The caller checked the state machine."""
    return await _move(
        session, order, frm, to, *where, actor=actor, actor_id=actor_id, reason=reason, **values
    )


async def move_fulfilment_row(
    session: AsyncSession,
    fulfilment: Fulfilment,
    to: str,
    *,
    actor: Actor,
    actor_id: str | None,
    reason: str = "",
) -> bool:
    """One conditional UPDATE of a fulfilment from its current status to `to`, with its
    timeline entry; False when another request moved it first."""
    frm = fulfilment.status
    return await _move(session, fulfilment, frm, to, actor=actor, actor_id=actor_id, reason=reason)


async def sell_fulfilment(
    session: AsyncSession, fulfilment: Fulfilment, *, actor_id: str | None
) -> bool:
    """Turn the fulfilment's reserved stock into a sale, exactly once (the conditional UPDATE
    on `accepted_at` is the guard); False when it was already sold."""
    now = utcnow()
    if not await update_if(
        session, fulfilment, Fulfilment.accepted_at.is_(None), accepted_at=now, updated_at=now
    ):
        return False
    for line in await fulfilment_items(session, fulfilment.id):
        await reservations.commit_sale(
            session,
            line.shop_id,
            line.variant_id,
            line.quantity,
            reason=f"order {line.order_id}",
            actor_user_id=actor_id,
        )
    return True


async def release_holds(session: AsyncSession, order: Order, *, actor_id: str | None) -> bool:
    """Give back what the order holds, exactly once: reserved stock (or, once sold, the units
    that were there), and the promotion use. The conditional UPDATE on `released_at` is the
    guard; False when another move already released them."""
    if not await update_if(session, order, Order.released_at.is_(None), released_at=utcnow()):
        return False
    fulfilments = await fulfilments_of(session, order.id)
    sold = {f.id for f in fulfilments if f.accepted_at is not None}
    back_already = {f.id for f in fulfilments if f.returned_at is not None}
    for line in await items_of(session, order.id):
        if line.fulfilment_id in back_already:
            continue  # a refused or abandoned delivery put these units back already
        if line.fulfilment_id not in sold:
            await reservations.release(session, line.shop_id, line.variant_id, line.quantity)
            continue
        # Sold but never delivered: the units are still on the shelf, less what was short.
        await _put_back(
            session, line, reason=f"order {order.reference} {order.status}", actor_id=actor_id
        )
    if order.promotion_id is not None:
        await promotion_uses.release_use(
            session, promotion_id=order.promotion_id, order_id=order.id
        )
    return True


async def return_fulfilment_stock(
    session: AsyncSession, fulfilment: Fulfilment, *, reason: str, actor_id: str | None
) -> bool:
    """Put a sold fulfilment's units back on its shop's shelf (a delivery refused or given up),
    exactly once: the conditional UPDATE on `returned_at` is the guard, and `release_holds`
    skips such a fulfilment later. False when they were already back, or never sold."""
    now = utcnow()
    if not await update_if(
        session,
        fulfilment,
        Fulfilment.returned_at.is_(None),
        Fulfilment.accepted_at.is_not(None),
        returned_at=now,
        updated_at=now,
    ):
        return False
    for line in await fulfilment_items(session, fulfilment.id):
        await _put_back(session, line, reason=reason, actor_id=actor_id)
    return True


async def _put_back(
    session: AsyncSession, line: OrderItem, *, reason: str, actor_id: str | None
) -> None:
    """A sold line's units go back on its shop's shelf, less what the shop was short of."""
    back = line.quantity - line.short_quantity
    if back > 0:
        await ledger.apply_delta(
            session,
            line.shop_id,
            line.variant_id,
            back,
            kind="return",
            reason=reason,
            actor_user_id=actor_id,
        )


async def follow_fulfilments(
    session: AsyncSession, order: Order, *, actor: Actor, actor_id: str | None
) -> str | None:
    """Once confirmed, the order's status is its least advanced live fulfilment: move it there.
    Returns the new status when it changed."""
    if order.status not in FOLLOWS_FULFILMENTS:
        return None
    target = derived_status(f.status for f in await fulfilments_of(session, order.id))
    if target is None or target == order.status:
        return None
    extra: dict[str, Any] = {"delivered_at": utcnow()} if target == OrderStatus.DELIVERED else {}
    if await move_order(
        session, order, order.status, target, actor=actor, actor_id=actor_id, **extra
    ):
        await tell_customer(session, order, target)
        return target
    return None


async def note_money(
    session: AsyncSession,
    order: Order,
    *,
    kind: str,
    reason: str,
    data: dict[str, Any],
    tell: str,
    **words: Any,
) -> None:
    """Money moved on the order (a payment in, a refund out): the timeline entry, by the
    system, and the buyer told (`tell` is their notice, `words` fill it)."""
    await add_event(
        session, new_event(order.id, kind=kind, actor=Actor.SYSTEM, reason=reason, data=data)
    )
    await tell_customer(session, order, tell, **words)
