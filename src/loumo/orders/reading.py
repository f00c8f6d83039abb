"""Who sees which orders, and reading and listing them.

`visible()` is the one ownership query: the buyer sees their orders, staff holding
`orders:read` see all, a shop manager sees the orders holding lines of their shops (and only
those lines). Unknown and not-yours are the same 404. `audit_order` records what staff or a
shop did to an order; `answer` ends a shop's action: its audit entry, then the order as the
caller sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.lookup import one_or_raise
from loumo.core.pagination import Page, after_position, cut_page, decode_cursor, position_of
from loumo.orders import READ
from loumo.orders.errors import OrderNotFound
from loumo.orders.models import Fulfilment, Order, OrderEvent, OrderItem
from loumo.orders.queries import fulfilments_of, items_of
from loumo.orders.schemas import (
    FulfilmentRead,
    OrderEventRead,
    OrderItemRead,
    OrderQuery,
    OrderRead,
    OrderSummary,
)


def visible(principal: Principal) -> ColumnElement[bool]:
    """The orders `principal` may see: their own, their shops' (managers), all (staff)."""
    if principal.has(READ):
        return true()
    mine: list[ColumnElement[bool]] = [Order.user_id == principal.user_id]
    if principal.managed_shop_ids:
        mine.append(
            Order.id.in_(
                select(Fulfilment.order_id).where(
                    Fulfilment.shop_id.in_(principal.managed_shop_ids)
                )
            )
        )
    return or_(*mine) if mine else false()


def shop_scope(principal: Principal, order: Order) -> frozenset[str] | None:
    """The shops whose lines `principal` sees on `order`; None for every line."""
    if principal.has(READ) or order.user_id == principal.user_id:
        return None
    return principal.managed_shop_ids


async def get_visible(session: AsyncSession, principal: Principal, order_id: str) -> Order:
    """The order if `principal` may see it; 404 otherwise, as for an unknown one."""
    return await one_or_raise(
        session,
        select(Order).where(Order.id == order_id, visible(principal)),
        OrderNotFound(f"No order {order_id}"),
    )


async def order_read(
    session: AsyncSession, order: Order, shops: frozenset[str] | None = None
) -> OrderRead:
    """The order as the database has it now (its lines, fulfilments and timeline reloaded)."""
    fulfilments = await fulfilments_of(session, order.id)
    items = await items_of(session, order.id)
    events = await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    )
    return build_read(order, fulfilments, items, list(events), shops)


def build_read(
    order: Order,
    fulfilments: Iterable[Fulfilment],
    items: Iterable[OrderItem],
    events: Iterable[OrderEvent],
    shops: frozenset[str] | None = None,
) -> OrderRead:
    """The answer of an order from its rows (each kind in id order, as the reads give them),
    limited to the fulfilments of `shops` (None: all): a checkout builds it from the rows it
    has just written, without reading them back."""
    kept = [f for f in fulfilments if shops is None or f.shop_id in shops]
    seen = {f.id for f in kept}
    return OrderRead.model_validate(
        {
            **{c.key: getattr(order, c.key) for c in Order.__table__.columns},
            "items": [OrderItemRead.model_validate(i) for i in items if i.fulfilment_id in seen],
            "fulfilments": [FulfilmentRead.model_validate(f) for f in kept],
            "timeline": [
                OrderEventRead.model_validate(e)
                for e in events
                if e.fulfilment_id is None or e.fulfilment_id in seen
            ],
        }
    )


async def get_order(session: AsyncSession, principal: Principal, order_id: str) -> OrderRead:
    order = await get_visible(session, principal, order_id)
    return await order_read(session, order, shop_scope(principal, order))


async def list_orders(
    session: AsyncSession, principal: Principal, query: OrderQuery
) -> Page[OrderSummary]:
    """Visible orders, newest first, filtered; `next_cursor` continues after the last one."""
    stmt = (
        select(Order)
        .where(visible(principal))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(query.limit + 1)
    )
    if query.status:
        stmt = stmt.where(Order.status == query.status)
    if query.shop_id:
        stmt = stmt.where(
            Order.id.in_(select(Fulfilment.order_id).where(Fulfilment.shop_id == query.shop_id))
        )
    if query.zone_id:
        stmt = stmt.where(Order.zone_id == query.zone_id)
    if query.created_from:
        stmt = stmt.where(Order.created_at >= query.created_from)
    if query.created_to:
        stmt = stmt.where(Order.created_at < query.created_to)
    position = decode_cursor(query.cursor)
    if position is not None:
        stmt = stmt.where(after_position(Order.created_at, Order.id, position))
    rows, next_cursor = cut_page((await session.scalars(stmt)).all(), query.limit, position_of)
    return Page(items=[OrderSummary.model_validate(o) for o in rows], next_cursor=next_cursor)


async def audit_order(
    session: AsyncSession,
    meta: RequestMeta,
    principal: Principal,
    action: str,
    order: Order,
    **diff: Any,
) -> None:
    """The audit entry of what `principal` did to `order`."""
    await audit.record(
        session,
        meta,
        action,
        actor_id=principal.user_id,
        entity_type="order",
        entity_id=order.id,
        diff={"reference": order.reference, "status": order.status, **diff},
    )


async def answer(
    session: AsyncSession,
    meta: RequestMeta,
    principal: Principal,
    order: Order,
    action: str,
    **diff: Any,
) -> OrderRead:
    """Audit `action` on `order`, then read it back as `principal` sees it."""
    await audit_order(session, meta, principal, action, order, **diff)
    return await order_read(session, order, shop_scope(principal, order))
