"""Assignment: capacity is never exceeded under concurrency (20 assignments to an agent of
capacity 5 → 5 assigned, 15 clean 409s, on SQLite and PostgreSQL through the ASGI app), the
job picks the fairest agent of the zone, and the setting switches it off. Who sees what; failed
attempts, rescheduling and a refusal's stock coming back."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.conftest import AuthHeaders
from tests.delivery.conftest import (
    Agent,
    assign,
    assigned,
    make_agent,
    make_ready,
    start,
)
from tests.factories import create_user, create_zone
from tests.orders.conftest import (
    API,
    World,
    make_buyer,
    place,
    reload,
    run_jobs,
    set_stock,
    stock_of,
)

from loumo.content import settings as business
from loumo.delivery.dispatch import assign_ready
from loumo.delivery.models import Delivery, DeliveryAgent
from loumo.delivery.tasks import ASSIGN_JOB
from loumo.jobs.outbox import defer


async def ready_cash_orders(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, world: World, n: int
) -> list[dict[str, Any]]:
    await set_stock(client, world, world.shop_a, world.a1, 100)
    buyer = await make_buyer(app, db, world.zone_id)
    orders = []
    for _ in range(n):
        order = await place(
            client, world, (world.a1, world.shop_a, 1), buyer=buyer, payment_method="cash"
        )
        orders.append(await make_ready(client, world, order))
    return orders


async def test_twenty_concurrent_assignments_to_an_agent_of_capacity_five(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    db: AsyncSession,
    dispatcher: dict[str, str],
) -> None:
    agent = await make_agent(client, app, db, dispatcher, [world.zone_id], max_deliveries=5)
    orders = await ready_cash_orders(client, app, db, world, 20)
    answers = await asyncio.gather(
        *(assign(client, dispatcher, o["id"], agent_id=agent.id) for o in orders)
    )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 5, 409: 15}, [a.text for a in answers if a.status_code >= 500]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"agent_at_capacity"}
    row = await db.get(DeliveryAgent, agent.id, populate_existing=True)
    assert row is not None and row.active == 5
    assert await db.scalar(select(func.count()).select_from(Delivery)) == 5


async def test_the_job_gives_ready_fulfilments_to_the_fairest_agents_of_the_zone(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    db: AsyncSession,
    dispatcher: dict[str, str],
    auth_headers: AuthHeaders,
) -> None:
    settings_writer = await auth_headers(
        "setwriter00000000000000000000001", permissions=["settings:write"]
    )
    busy = await make_agent(client, app, db, dispatcher, [world.zone_id], max_deliveries=3)
    idle = await make_agent(client, app, db, dispatcher, [world.zone_id], max_deliveries=3)
    elsewhere = await make_agent(client, app, db, dispatcher, [], max_deliveries=9)
    first = (await ready_cash_orders(client, app, db, world, 1))[0]
    await assigned(client, dispatcher, first["id"], agent_id=busy.id)
    orders = await ready_cash_orders(client, app, db, world, 4)
    # Switched off by staff: the job assigns nothing.
    off = await client.put(
        f"{API}/settings/delivery_auto_assign", json={"value": False}, headers=settings_writer
    )
    assert off.status_code == 200, off.text
    business.forget()
    await defer(db, ASSIGN_JOB, {})
    await db.commit()
    await run_jobs(app)
    assert await db.scalar(select(func.count()).select_from(Delivery)) == 1
    on = await client.delete(f"{API}/settings/delivery_auto_assign", headers=settings_writer)
    assert on.status_code == 204
    business.forget()
    await defer(db, ASSIGN_JOB, {})
    await db.commit()
    await run_jobs(app)
    assert await assign_ready(db) == 0  # nothing left to assign
    per_agent = Counter(
        await db.scalars(
            select(Delivery.agent_id).where(Delivery.order_id.in_([o["id"] for o in orders]))
        )
    )
    # Fewest carried first, then idle longest: 0-1 → idle, 1-1 → busy (idle longer), 2-1 →
    # idle, 2-2 → busy; never the agent serving no zone of the order.
    assert per_agent == {idle.id: 2, busy.id: 2}
    assert elsewhere.id not in per_agent
    business.forget()


async def test_an_agent_sees_only_their_own_deliveries(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    other = await make_agent(client, app, db, dispatcher, [world.zone_id], name="Jean Ndi")
    mine, theirs = await ready_cash_orders(client, app, db, world, 2)
    delivery = await assigned(client, dispatcher, mine["id"], agent_id=agent.id, priority=2)
    foreign = await assigned(client, dispatcher, theirs["id"], agent_id=other.id)
    seen = await client.get(f"{API}/deliveries/{foreign['id']}", headers=agent.headers)
    assert seen.status_code == 404
    acted = await client.post(f"{API}/deliveries/{foreign['id']}/start", headers=agent.headers)
    assert acted.status_code == 404
    listed = (await client.get(f"{API}/deliveries?mine=1", headers=agent.headers)).json()
    assert [d["id"] for d in listed["items"]] == [delivery["id"]]
    everything = (await client.get(f"{API}/deliveries", headers=agent.headers)).json()
    assert [d["id"] for d in everything["items"]] == [delivery["id"]]
    mine_read = await client.get(f"{API}/deliveries/{delivery['id']}", headers=agent.headers)
    body = mine_read.json()
    assert body["address"]["street"] == "Rue 1" and body["contact_phone"]
    assert body["customer_first_name"] and "email" not in body
    # The order itself stays out of an agent's reach, assigned or not.
    for order_id in (mine["id"], theirs["id"]):
        assert (
            await client.get(f"{API}/orders/{order_id}", headers=agent.headers)
        ).status_code == 404
    # The shop's manager sees it; the other shop's manager does not.
    managed = await client.get(f"{API}/deliveries/{delivery['id']}", headers=world.manager_a)
    assert managed.status_code == 200
    unmanaged = await client.get(f"{API}/deliveries/{delivery['id']}", headers=world.manager_b)
    assert unmanaged.status_code == 404
    # Staff list by priority, then when due.
    staff = (await client.get(f"{API}/deliveries", headers=dispatcher)).json()
    assert [d["id"] for d in staff["items"]] == [delivery["id"], foreign["id"]]


async def test_failed_attempts_reschedule_and_a_refusal_gives_the_stock_back(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    order = (await ready_cash_orders(client, app, db, world, 1))[0]
    before = await stock_of(db, world.shop_a, world.a1)
    delivery = await assigned(client, dispatcher, order["id"], agent_id=agent.id)
    await start(client, agent, delivery["id"])
    url = f"{API}/deliveries/{delivery['id']}"
    absent = await client.post(
        f"{url}/fail", json={"reason": "customer_absent"}, headers=agent.headers
    )
    assert absent.status_code == 200 and absent.json()["status"] == "failed"
    again = await client.post(f"{url}/reschedule", json={"priority": 1}, headers=dispatcher)
    assert again.status_code == 200 and again.json()["status"] == "assigned", again.text
    assert (await reload(db, order["id"])).status == "ready"
    await start(client, agent, delivery["id"])
    refused = await client.post(f"{url}/fail", json={"reason": "refused"}, headers=agent.headers)
    assert refused.status_code == 200
    assert await stock_of(db, world.shop_a, world.a1) == (before[0] + 1, before[1])
    no_more = await client.post(f"{url}/reschedule", json={}, headers=dispatcher)
    assert (no_more.status_code, no_more.json()["code"]) == (409, "not_reschedulable")
    # Given up: nothing comes back twice.
    assert (await client.post(f"{url}/cancel", headers=dispatcher)).status_code == 200
    assert await stock_of(db, world.shop_a, world.a1) == (before[0] + 1, before[1])
    row = await db.get(DeliveryAgent, agent.id, populate_existing=True)
    assert row is not None and row.active == 0


@pytest.mark.parametrize("reason", ["address_wrong"])
async def test_the_customer_is_told_of_a_failed_attempt(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
    reason: str,
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 1), payment_method="cash")
    await make_ready(client, world, order)
    delivery = await assigned(client, dispatcher, order["id"], agent_id=agent.id)
    await start(client, agent, delivery["id"])
    failed = await client.post(
        f"{API}/deliveries/{delivery['id']}/fail",
        json={"reason": reason, "note": "No such street"},
        headers=agent.headers,
    )
    assert failed.status_code == 200
    assert failed.json()["failure_reason"] == reason
    mine = await client.get(f"{API}/me/notifications", headers=world.buyer.headers)
    assert any("failed" in n["title"] for n in mine.json()["items"])


async def test_an_agent_lists_zones_that_exist(
    client: httpx.AsyncClient, db: AsyncSession, world: World, dispatcher: dict[str, str]
) -> None:
    user = await create_user(db, None, name="Paul Ndi")
    body = {"user_id": user.id, "zone_ids": [world.zone_id, "nozone"], "max_deliveries": 3}
    refused = await client.post(f"{API}/agents", json=body, headers=dispatcher)
    assert refused.status_code == 400
    assert refused.json()["code"] == "unknown_zone"
    assert refused.json()["field"] == "zone_ids"
    assert await db.scalar(select(func.count()).select_from(DeliveryAgent)) == 0
    body["zone_ids"] = [world.zone_id, world.zone_id]
    made = await client.post(f"{API}/agents", json=body, headers=dispatcher)
    assert made.status_code == 201 and made.json()["zone_ids"] == [world.zone_id]


async def test_agents_of_a_zone_page_through_all_of_them(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: AsyncSession,
    world: World,
    dispatcher: dict[str, str],
) -> None:
    """The zone filter is applied before the page is cut: no short page, no agent left out."""
    other = await create_zone(db)
    await db.commit()
    ours = []
    for n in range(6):
        zone = world.zone_id if n % 3 == 0 else other.id
        made = await make_agent(client, app, db, dispatcher, [zone], name=f"Agent {n}")
        if zone == world.zone_id:
            ours.append(made.id)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"zone_id": world.zone_id, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await client.get(f"{API}/agents", params=params, headers=dispatcher)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        seen += [a["id"] for a in items]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        assert items, "an empty page before the end"
    assert sorted(seen) == sorted(ours) and len(ours) == 2
