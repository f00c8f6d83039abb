"""End to end over TCP: 20 concurrent assignments to an agent of capacity 5 against real
`loumo serve` processes (two sharing one PostgreSQL database; one on SQLite) → exactly 5
assigned, 15 clean 409 `agent_at_capacity` problem documents, none a 5xx."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select
from tests.conftest import PROCESS_DEADLINE, empty_database
from tests.factories import create_user, make_category, make_product, make_shop, make_zone
from tests.orders.test_e2e_oversell import SECRET_KEY, _headers
from tests.servers import serving

from loumo.accounts.models import Address, AuthSession
from loumo.core.db import Database
from loumo.core.migrations import upgrade_async
from loumo.delivery.models import Delivery, DeliveryAgent

pytestmark = pytest.mark.e2e

API = "/api/v1"
ORDERS, CAPACITY = 20, 5
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith("postgresql")


@dataclass
class Depot:
    bases: list[str]
    db: Database
    staff: dict[str, str]
    agent_id: str
    order_ids: list[str]


async def _ready_orders(db: Database, base: str) -> tuple[dict[str, str], str, list[str]]:
    async with db.sessionmaker() as session:
        admin = await create_user(session, "admin")
        courier = await create_user(session, None)
        buyer = await create_user(session, "customer", phone="+237650000009")
        sessions = [AuthSession(user_id=u.id) for u in (admin, buyer)]
        session.add_all(sessions)
        await session.commit()
        staff = _headers(admin.id, sessions[0].id)
        customer = _headers(buyer.id, sessions[1].id)
        courier_id, buyer_id = courier.id, buyer.id
    async with httpx.AsyncClient(base_url=base, timeout=PROCESS_DEADLINE) as client:
        zone = await make_zone(client, staff, delivery_fee=500)
        shop = await make_shop(client, staff, zone["id"])
        category = await make_category(client, staff, f"Food {uuid.uuid4().hex[:6]}")
        product = await make_product(client, staff, category["id"], name_fr="Riz")
        variant = product["variants"][0]["id"]
        stocked = await client.put(
            f"{API}/shops/{shop['id']}/stock/{variant}", json={"quantity": 100}, headers=staff
        )
        assert stocked.status_code == 200, stocked.text
        async with db.sessionmaker() as session:
            address = Address(
                user_id=buyer_id,
                label="Home",
                street="Rue 1",
                locality="Bastos",
                zone_id=zone["id"],
            )
            session.add(address)
            await session.commit()
            address_id = address.id
        agent = await client.post(
            f"{API}/agents",
            json={"user_id": courier_id, "zone_ids": [zone["id"]], "max_deliveries": CAPACITY},
            headers=staff,
        )
        assert agent.status_code == 201, agent.text
        order_ids = []
        for _ in range(ORDERS):
            body = {
                "items": [{"variant_id": variant, "shop_id": shop["id"], "quantity": 1}],
                "address_id": address_id,
                "payment_method": "cash",
            }
            placed = await client.post(
                f"{API}/orders",
                json=body,
                headers={**customer, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert placed.status_code == 201, placed.text
            order_id = placed.json()["id"]
            for to in ("confirmed", "preparing", "ready"):
                moved = await client.post(
                    f"{API}/orders/{order_id}/transitions", json={"to": to}, headers=staff
                )
                assert moved.status_code == 200, moved.text
            order_ids.append(order_id)
    return staff, agent.json()["id"], order_ids


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def depot(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Depot]:
    if request.param == "postgresql" and not ON_POSTGRESQL:
        pytest.skip("two processes need one database server: run with DATABASE_URL=postgresql…")
    if request.param == "sqlite" and ON_POSTGRESQL:
        pytest.skip("the one-process SQLite race runs when DATABASE_URL is unset (SQLite)")
    workdir = tmp_path_factory.mktemp("e2e-capacity")
    async with empty_database(workdir) as url:
        await upgrade_async(url)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "VAR_DIR": str(workdir / "var"),
            "MAIL_DIR": str(workdir / "mail"),
            "ENVIRONMENT": "development",
            "SECRET_KEY": SECRET_KEY,
            "JOBS_IN_PROCESS": "false",  # no assignment job: the race is the staff's
            "LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        env.pop("BROKER_URL", None)
        db = Database(url)
        try:
            with serving(2 if ON_POSTGRESQL else 1, env, workdir) as bases:
                staff, agent_id, order_ids = await _ready_orders(db, bases[0])
                yield Depot(bases, db, staff, agent_id, order_ids)
        finally:
            await db.dispose()


async def test_20_assignments_to_an_agent_of_capacity_5_assign_exactly_5(depot: Depot) -> None:
    assert len(depot.bases) == (2 if ON_POSTGRESQL else 1)
    clients = [httpx.AsyncClient(base_url=base, timeout=PROCESS_DEADLINE) for base in depot.bases]
    try:
        answers = await asyncio.gather(
            *(
                clients[i % len(clients)].post(
                    f"{API}/orders/{order_id}/deliveries",
                    json={"agent_id": depot.agent_id},
                    headers=depot.staff,
                )
                for i, order_id in enumerate(depot.order_ids)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    assert not [a.text for a in answers if a.status_code >= 500]
    outcomes = Counter(
        (a.status_code, a.json().get("code")) if a.status_code == 409 else a.status_code
        for a in answers
    )
    assert outcomes == {201: CAPACITY, (409, "agent_at_capacity"): ORDERS - CAPACITY}
    async with depot.db.sessionmaker() as session:
        active = await session.scalar(
            select(DeliveryAgent.active).where(DeliveryAgent.id == depot.agent_id)
        )
        made = await session.scalar(select(func.count()).select_from(Delivery))
    assert (active, made) == (CAPACITY, CAPACITY)
