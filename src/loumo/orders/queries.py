"""The reads every part of orders shares: an order fresh from the database, its lines, its
fulfilments (always reloaded: another request may have moved them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.lookup import get_or_raise
from loumo.orders.errors import OrderNotFound
from loumo.orders.models import Fulfilment, Order, OrderItem


async def load_order(session: AsyncSession, order_id: str) -> Order:
    """The order as the database has it now, without ownership; 404 when there is none."""
    return await get_or_raise(session, Order, order_id, OrderNotFound(f"No order {order_id}"))


async def items_of(session: AsyncSession, order_id: str) -> list[OrderItem]:
    rows = await session.scalars(
        select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
    )
    return list(rows)


async def fulfilment_items(session: AsyncSession, fulfilment_id: str) -> list[OrderItem]:
    rows = await session.scalars(
        select(OrderItem).where(OrderItem.fulfilment_id == fulfilment_id).order_by(OrderItem.id)
    )
    return list(rows)


async def fulfilments_of(session: AsyncSession, order_id: str) -> list[Fulfilment]:
    rows = await session.scalars(
        select(Fulfilment)
        .where(Fulfilment.order_id == order_id)
        .order_by(Fulfilment.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)
