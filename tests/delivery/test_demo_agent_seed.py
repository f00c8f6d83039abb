"""`loumo seed --demo` gives the demo agent user an agent profile serving every active zone,
once; a profile already there is left as it is."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.orders.conftest import API

from loumo.accounts.seed import DEMO_USERS, seed_demo_users
from loumo.core.db import Database
from loumo.delivery.models import DeliveryAgent
from loumo.delivery.seed import DEMO_AGENT_EMAIL, seed_demo_agent
from loumo.seed.catalog import seed_catalog
from loumo.zones.models import Zone


async def test_the_demo_agent_gets_a_profile_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    database: Database = app.state.db
    async with database.sessionmaker() as session:
        assert await seed_demo_agent(session) is False  # no demo users yet: nothing to do
        await seed_demo_users(session)
        await seed_catalog(session)
        assert await seed_demo_agent(session) is True
        await session.commit()
        zones = sorted(await session.scalars(select(Zone.id).where(Zone.is_active)))

    password = next(p for _, _, email, p in DEMO_USERS if email == DEMO_AGENT_EMAIL)
    login = await client.post(
        f"{API}/auth/login", json={"email": DEMO_AGENT_EMAIL, "password": password}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = await client.get(f"{API}/agents/me", headers=headers)
    assert me.status_code == 200, me.text
    profile = me.json()
    assert zones and sorted(profile["zone_ids"]) == zones
    assert profile["available"] is True and profile["active"] == 0

    off = await client.patch(f"{API}/agents/me", json={"available": False}, headers=headers)
    assert off.status_code == 200, off.text
    async with database.sessionmaker() as session:
        assert await seed_demo_agent(session) is False
        await session.commit()
        assert await session.scalar(select(func.count()).select_from(DeliveryAgent)) == 1
    assert (await client.get(f"{API}/agents/me", headers=headers)).json()["available"] is False
