"""`loumo seed --demo` makes a few orders of the demo customer, in several states, once."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from loumo.accounts.seed import seed_demo_users
from loumo.core.db import Database
from loumo.orders.models import Order
from loumo.orders.seed import seed_demo_orders
from loumo.seed.catalog import seed_catalog


async def test_demo_orders_in_several_states_once(app: FastAPI) -> None:
    database: Database = app.state.db
    async with database.sessionmaker() as session:
        await seed_demo_users(session)
        await seed_catalog(session)
        assert await seed_demo_orders(session) == 5
        await session.commit()
        statuses = sorted(await session.scalars(select(Order.status)))
        assert statuses == ["cancelled", "pending_payment", "placed", "preparing", "ready"]
        assert await seed_demo_orders(session) == 0
