"""`loumo seed --demo` makes a few orders of the demo customer, in several states, once."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from loumo.accounts.models import Address
from loumo.accounts.seed import seed_demo_users
from loumo.core.db import Database
from loumo.orders.models import Order
from loumo.orders.seed import seed_demo_orders
from loumo.seed.catalog import seed_catalog
from loumo.zones.models import Zone


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
        # The seeded zones list their localities, and the demo address sits in the one
        # covering it (its orders are in that zone too).
        zones = {z.name: z for z in await session.scalars(select(Zone))}
        assert zones["Yaoundé Bastos"].localities == ["Bastos", "Golf", "Centre-ville"]
        assert all(zone.localities for zone in zones.values())
        address = await session.scalar(select(Address))
        assert address is not None and address.zone_id == zones["Yaoundé Bastos"].id
        assert set(await session.scalars(select(Order.zone_id))) == {address.zone_id}
