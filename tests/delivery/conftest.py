"""Delivery on the orders' small marketplace (tests/orders/conftest.py): agents made over HTTP
by a dispatcher (staff holding the agents and deliveries permissions), and orders brought to
`ready` by their shops' managers over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.conftest import AuthHeaders
from tests.factories import auth_headers as headers_for
from tests.factories import create_user
from tests.orders import conftest as orders
from tests.orders.conftest import API, World, key
from tests.payments.conftest import live_url, sandbox  # noqa: F401  (paying through the sandbox)

from loumo.accounts.models import User
from loumo.jobs.models import Job
from loumo.notifications.models import Notification

world = orders.world  # the orders' marketplace, as a fixture here too

DISPATCH = (
    "agents:read",
    "agents:write",
    "deliveries:read",
    "deliveries:write",
    "orders:read",
)


@dataclass
class Agent:
    id: str
    user: User
    headers: dict[str, str]


@pytest.fixture
async def dispatcher(auth_headers: AuthHeaders) -> dict[str, str]:
    return await auth_headers("dispatch000000000000000000000001", permissions=DISPATCH)


async def make_agent(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: AsyncSession,
    dispatcher: dict[str, str],
    zone_ids: list[str],
    *,
    max_deliveries: int = 5,
    name: str = "Awa Mbarga",
) -> Agent:
    """A user made a delivery agent through `POST /agents` (the role comes with it)."""
    user = await create_user(db, None, name=name)
    body = {"user_id": user.id, "zone_ids": zone_ids, "max_deliveries": max_deliveries}
    response = await client.post(f"{API}/agents", json=body, headers=dispatcher)
    assert response.status_code == 201, response.text
    return Agent(response.json()["id"], user, await headers_for(app, user))


@pytest.fixture
async def agent(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, world: World, dispatcher: Any
) -> Agent:
    return await make_agent(client, app, db, dispatcher, [world.zone_id])


def managers(world: World) -> dict[str, dict[str, str]]:
    return {world.shop_a: world.manager_a, world.shop_b: world.manager_b}


async def make_ready(
    client: httpx.AsyncClient, world: World, order: dict[str, Any]
) -> dict[str, Any]:
    """Each shop accepts (a cash order), prepares and readies its part, over HTTP."""
    for fulfilment in order["fulfilments"]:
        base = f"{API}/orders/{order['id']}/fulfilments/{fulfilment['id']}"
        headers = managers(world)[fulfilment["shop_id"]]
        if order["payment_method"] == "cash":
            accepted = await client.post(f"{base}/accept", headers=headers)
            assert accepted.status_code == 200, accepted.text
        for to in ("preparing", "ready"):
            moved = await client.post(f"{base}/transitions", json={"to": to}, headers=headers)
            assert moved.status_code == 200, moved.text
    answer = await client.get(f"{API}/orders/{order['id']}", headers=world.order_staff)
    result: dict[str, Any] = answer.json()
    assert result["status"] == "ready", result
    return result


async def assign(
    client: httpx.AsyncClient,
    dispatcher: dict[str, str],
    order_id: str,
    **body: Any,
) -> httpx.Response:
    return await client.post(f"{API}/orders/{order_id}/deliveries", json=body, headers=dispatcher)


async def assigned(
    client: httpx.AsyncClient, dispatcher: dict[str, str], order_id: str, **body: Any
) -> dict[str, Any]:
    response = await assign(client, dispatcher, order_id, **body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def codes_of(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: str
) -> dict[str, str]:
    """{delivery id: code} as the customer reads them."""
    response = await client.get(f"{API}/orders/{order_id}/delivery-code", headers=headers)
    assert response.status_code == 200, response.text
    return {c["delivery_id"]: c["code"] for c in response.json()["items"]}


async def close(
    client: httpx.AsyncClient, agent: Agent, delivery_id: str, code: str
) -> httpx.Response:
    return await client.post(
        f"{API}/deliveries/{delivery_id}/complete",
        json={"code": code},
        headers={**agent.headers, **key()},
    )


async def start(client: httpx.AsyncClient, agent: Agent, delivery_id: str) -> dict[str, Any]:
    response = await client.post(
        f"{API}/deliveries/{delivery_id}/start", json={"eta_minutes": 30}, headers=agent.headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def notices_of(db: AsyncSession, user_id: str) -> list[str]:
    rows = await db.scalars(
        select(Notification.title)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at, Notification.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def emails_to(db: AsyncSession, address: str) -> list[str]:
    """Templates of the email jobs addressed to `address`, in order."""
    jobs = await db.scalars(
        select(Job).where(Job.name == "email.send").order_by(Job.created_at, Job.id)
    )
    return [j.payload["template"] for j in jobs if j.payload.get("to") == address]


async def every_payload(db: AsyncSession) -> str:
    return " ".join(str(j.payload) for j in await db.scalars(select(Job)))
