"""Runs the seeds of every package in one transaction (demo users are added by `accounts`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import loumo.accounts.tasks  # noqa: F401 (registers who order notifications reach)
from loumo.accounts.models import User
from loumo.accounts.seed import DEMO_MANAGER_EMAIL
from loumo.content.seed import seed_content
from loumo.core.db import Database
from loumo.delivery.seed import seed_demo_agent
from loumo.orders.seed import seed_demo_orders
from loumo.promotions.seed import seed_promotions
from loumo.seed.catalog import seed_catalog, seed_scale
from loumo.shops.managers import add_manager
from loumo.shops.models import Shop


async def link_demo_manager(session: AsyncSession, email: str) -> str | None:
    """Make the demo shop manager a manager of the first demo shop (idempotent)."""
    user_id = await session.scalar(select(User.id).where(User.email == email))
    shop = await session.scalar(select(Shop).order_by(Shop.name, Shop.id).limit(1))
    if user_id is None or shop is None:
        return None
    await add_manager(session, shop.id, user_id)
    return shop.name


async def run_seed(database_url: str, *, demo: bool, scale: int | None) -> list[str]:
    """Seed and commit; returns one line of summary per step."""
    database = Database(database_url)
    lines: list[str] = []
    try:
        async with database.sessionmaker() as session:
            if demo:
                made = await seed_catalog(session)
                lines.append(f"demo catalog: {made} products created")
                promotions = await seed_promotions(session)
                lines.append(f"demo promotions: {promotions} created")
                shop = await link_demo_manager(session, DEMO_MANAGER_EMAIL)
                if shop:
                    lines.append(f"demo shop manager manages {shop}")
                if await seed_demo_agent(session):
                    lines.append("demo delivery agent: profile created (every active zone)")
                orders = await seed_demo_orders(session)
                lines.append(f"demo orders: {orders} created")
                topics = await seed_content(session)
                lines.append(f"demo FAQ: {topics} topics created")
            if scale:
                made = await seed_scale(session, scale)
                lines.append(f"scale: {made} products created (3 variants each, 5 shops)")
            await session.commit()
    finally:
        await database.dispose()
    return lines
