"""Delivery end to end over HTTP: a paid order prepared, assigned to an agent of its zone,
started and closed with the customer's code; a cash order settled at closing; a two-shop order
delivered only once both deliveries close; wrong codes lock the closing."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.delivery.conftest import (
    Agent,
    assigned,
    close,
    codes_of,
    emails_to,
    every_payload,
    make_ready,
    notices_of,
    start,
)
from tests.orders.conftest import API, World, key, place, reload, run_jobs
from tests.payments.support import MTN_OK

from loumo.audit.models import AuditEntry
from loumo.core.settings import Settings
from loumo.delivery.models import Delivery, DeliveryAgent
from loumo.jobs.models import Job
from loumo.payments.models import Payment


async def test_a_paid_order_is_assigned_started_and_closed_with_the_customers_code(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    db: AsyncSession,
    sandbox: Settings,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 2))
    paid = await client.post(
        f"{API}/orders/{order['id']}/payments",
        json={"method": "mobile_money", "phone": MTN_OK},
        headers={**world.buyer.headers, **key()},
    )
    assert paid.status_code == 201, paid.text
    await run_jobs(app)
    assert (await reload(db, order["id"])).payment_status == "paid"
    await make_ready(client, world, order)

    delivery = await assigned(client, dispatcher, order["id"], agent_id=agent.id)
    assert (delivery["status"], delivery["agent_id"]) == ("assigned", agent.id)
    assert delivery["customer_first_name"] and delivery["contact_phone"] == "+237650000001"
    assert [line["quantity"] for line in delivery["lines"]] == [2]
    assert any("New delivery" in t for t in await notices_of(db, agent.user.id))
    assert "delivery_assigned" in await emails_to(db, agent.user.email)

    # No code before the agent sets off.
    early = await client.get(
        f"{API}/orders/{order['id']}/delivery-code", headers=world.buyer.headers
    )
    assert early.status_code == 404
    started = await start(client, agent, delivery["id"])
    assert started["status"] == "out_for_delivery" and started["eta"] is not None
    assert (await reload(db, order["id"])).status == "out_for_delivery"
    code = (await codes_of(client, world.buyer.headers, order["id"]))[delivery["id"]]
    assert len(code) == 6 and code.isdigit()
    # Another customer cannot read it.
    other = await client.get(
        f"{API}/orders/{order['id']}/delivery-code", headers=world.other.headers
    )
    assert other.status_code == 404
    # The customer sees the state and the agent's first name, nothing more.
    seen = (
        await client.get(f"{API}/deliveries/{delivery['id']}", headers=world.buyer.headers)
    ).json()
    assert seen["agent_first_name"] == "Awa" and seen["address"] is None and seen["lines"] is None

    closed = await close(client, agent, delivery["id"], code)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "delivered"
    done = await reload(db, order["id"])
    assert (done.status, done.payment_status) == ("delivered", "paid")
    # The customer was told at each step, in-app and by email; the code was in no job.
    await run_jobs(app)
    titles = " | ".join(await notices_of(db, world.buyer.user.id))
    for step in ("is on its way", "Awa is on the way", "delivered"):
        assert step in titles, titles
    templates = await emails_to(db, world.buyer.user.email)
    for template in ("order_received", "payment_received", "order_preparing"):
        assert template in templates
    assert "order_out_for_delivery" in templates and "delivered" in templates
    assert code not in await every_payload(db)
    agent_row = await db.get(DeliveryAgent, agent.id, populate_existing=True)
    assert agent_row is not None and agent_row.active == 0
    actions = set(
        await db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "delivery"))
    )
    assert {"delivery.assign", "delivery.start", "delivery.complete"} <= actions


async def test_a_cash_order_is_settled_at_closing_with_the_amount_collected(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    order = await place(client, world, (world.a2, world.shop_a, 1), payment_method="cash")
    await make_ready(client, world, order)
    delivery = await assigned(client, dispatcher, order["id"])  # the fairest agent: ours
    assert delivery["agent_id"] == agent.id and delivery["cash_due"] == order["total"]
    await start(client, agent, delivery["id"])
    code = (await codes_of(client, world.buyer.headers, order["id"]))[delivery["id"]]
    closed = await close(client, agent, delivery["id"], code)
    assert closed.status_code == 200, closed.text
    assert closed.json()["cash_collected"] == order["total"]
    done = await reload(db, order["id"])
    assert (done.status, done.payment_status, done.paid_amount) == (
        "delivered",
        "paid",
        order["total"],
    )
    payment = await db.scalar(select(Payment).where(Payment.order_id == order["id"]))
    assert payment is not None
    assert (payment.provider, payment.status, payment.amount, payment.collected_by) == (
        "cash",
        "succeeded",
        order["total"],
        agent.user.id,
    )
    # The agent's day, and the cash handed in.
    summary = (await client.get(f"{API}/agents/{agent.id}/summary", headers=dispatcher)).json()
    assert (summary["delivered"], summary["cash_collected"], summary["cash_owed"]) == (
        1,
        order["total"],
        order["total"],
    )
    handed = await client.post(
        f"{API}/agents/{agent.id}/cash-handins",
        json={"amount": order["total"]},
        headers={**dispatcher, **key()},
    )
    assert handed.status_code == 201, handed.text
    summary = (await client.get(f"{API}/agents/{agent.id}/summary", headers=dispatcher)).json()
    assert (summary["cash_handed_in"], summary["cash_owed"]) == (order["total"], 0)


async def test_a_line_short_in_full_is_not_in_the_agents_notice(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    order = await place(
        client,
        world,
        (world.a1, world.shop_a, 2),
        (world.a2, world.shop_a, 1),
        payment_method="cash",
    )
    base = f"{API}/orders/{order['id']}"
    fulfilment = f"{base}/fulfilments/{order['fulfilments'][0]['id']}"
    for step in ("accept", "transitions"):
        body = {"to": "preparing"} if step == "transitions" else None
        moved = await client.post(f"{fulfilment}/{step}", json=body, headers=world.manager_a)
        assert moved.status_code == 200, moved.text
    a2 = next(i["id"] for i in order["items"] if i["variant_id"] == world.a2)
    short = await client.post(
        f"{base}/items/{a2}/short", json={"quantity": 1}, headers=world.manager_a
    )
    assert short.status_code == 200, short.text
    ready = await client.post(
        f"{fulfilment}/transitions", json={"to": "ready"}, headers=world.manager_a
    )
    assert ready.status_code == 200, ready.text
    delivery = await assigned(client, dispatcher, order["id"], agent_id=agent.id)
    assert [line["quantity"] for line in delivery["lines"]] == [2]
    job = await db.scalar(
        select(Job).where(
            Job.name == "email.send", Job.payload["template"].as_string() == "delivery_assigned"
        )
    )
    assert job is not None
    assert [line["quantity"] for line in job.payload["context"]["lines"]] == [2]


async def test_a_two_shop_order_is_delivered_only_after_both_deliveries_close(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    order = await place(
        client,
        world,
        (world.a1, world.shop_a, 1),
        (world.b1, world.shop_b, 1),
        payment_method="cash",
    )
    await make_ready(client, world, order)
    first = await assigned(client, dispatcher, order["id"], shop_id=world.shop_a)
    second = await assigned(client, dispatcher, order["id"], shop_id=world.shop_b)
    for delivery in (first, second):
        await start(client, agent, delivery["id"])
    codes = await codes_of(client, world.buyer.headers, order["id"])
    assert set(codes) == {first["id"], second["id"]}
    assert (await close(client, agent, first["id"], codes[first["id"]])).status_code == 200
    halfway = await reload(db, order["id"])
    assert (halfway.status, halfway.payment_status) == ("out_for_delivery", "unpaid")
    assert (await close(client, agent, second["id"], codes[second["id"]])).status_code == 200
    done = await reload(db, order["id"])
    assert (done.status, done.payment_status, done.paid_amount) == (
        "delivered",
        "paid",
        order["total"],
    )
    collected = list(await db.scalars(select(Delivery.cash_collected).order_by(Delivery.id)))
    assert sum(collected) == order["total"] and all(c > 0 for c in collected)


async def _out(
    client: httpx.AsyncClient, world: World, agent: Agent, dispatcher: dict[str, str]
) -> tuple[dict[str, object], str, str]:
    order = await place(client, world, (world.a1, world.shop_a, 1), payment_method="cash")
    await make_ready(client, world, order)
    delivery = await assigned(client, dispatcher, order["id"], agent_id=agent.id)
    await start(client, agent, delivery["id"])
    code = (await codes_of(client, world.buyer.headers, order["id"]))[delivery["id"]]
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    return order, str(delivery["id"]), wrong


async def test_five_wrong_codes_lock_the_closing_until_staff_reissue(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    order, delivery_id, wrong = await _out(client, world, agent, dispatcher)
    answers = [await close(client, agent, delivery_id, wrong) for _ in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 409], [
        a.json() for a in answers
    ]
    assert [a.json().get("tries_left") for a in answers] == [4, 3, 2, 1, 0]
    assert answers[-1].json()["code"] == "code_locked"
    right = (await codes_of(client, world.buyer.headers, str(order["id"])))[delivery_id]
    locked = await close(client, agent, delivery_id, right)
    assert (locked.status_code, locked.json()["code"]) == (409, "code_locked")
    # Staff were alerted (the dispatcher holds deliveries:write).
    staff_titles = await notices_of(db, "dispatch000000000000000000000001")
    assert any("locked" in t for t in staff_titles), staff_titles
    reissued = await client.post(f"{API}/deliveries/{delivery_id}/reissue-code", headers=dispatcher)
    assert reissued.status_code == 200, reissued.text
    new = (await codes_of(client, world.buyer.headers, str(order["id"])))[delivery_id]
    assert (await close(client, agent, delivery_id, right)).status_code in (400, 200)
    if new != right:
        assert (await close(client, agent, delivery_id, new)).status_code == 200
    assert (await reload(db, str(order["id"]))).status == "delivered"


async def test_a_wrong_code_frees_its_key_and_its_try_stays_counted(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    order, delivery_id, wrong = await _out(client, world, agent, dispatcher)
    url, headers = f"{API}/deliveries/{delivery_id}/complete", {**agent.headers, **key()}
    first = await client.post(url, json={"code": wrong}, headers=headers)
    again = await client.post(url, json={"code": wrong}, headers=headers)
    # The same key runs again (not a replay): each wrong try is counted and committed.
    assert [first.json().get("tries_left"), again.json().get("tries_left")] == [4, 3]
    assert "Idempotent-Replayed" not in again.headers
    row = await db.get(Delivery, delivery_id, populate_existing=True)
    assert row is not None and row.code_tries == 2
    right = (await codes_of(client, world.buyer.headers, str(order["id"])))[delivery_id]
    closed = await client.post(url, json={"code": right}, headers=headers)
    assert closed.status_code == 200, closed.text  # the key was free for another body
    replayed = await client.post(url, json={"code": right}, headers=headers)
    assert (replayed.status_code, replayed.headers["Idempotent-Replayed"]) == (200, "true")


async def test_parallel_wrong_codes_count_at_most_five(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    agent: Agent,
    dispatcher: dict[str, str],
) -> None:
    _, delivery_id, wrong = await _out(client, world, agent, dispatcher)
    answers = await asyncio.gather(*(close(client, agent, delivery_id, wrong) for _ in range(12)))
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {400, 409} and statuses[400] <= 4, statuses
    row = await db.get(Delivery, delivery_id, populate_existing=True)
    assert row is not None and row.code_tries == 5
