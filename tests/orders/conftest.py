"""A small marketplace to order from: one zone, two shops with managers, three variants in stock,
and buyers with an address in the zone. Built over HTTP with the real staff routes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.conftest import AuthHeaders
from tests.factories import auth_headers as headers_for
from tests.factories import create_user, make_category, make_product, make_shop, make_zone
from tests.payments.conftest import live_url, sandbox  # noqa: F401  (paying through the sandbox)

from loumo.accounts.models import Address, User
from loumo.jobs.runner import run_pending
from loumo.orders.models import Order
from loumo.shops.models import Stock, shop_managers

API = "/api/v1"
FEE = 1000


@dataclass
class Buyer:
    user: User
    headers: dict[str, str]
    address_id: str


@dataclass
class World:
    staff: dict[str, str]
    zone_id: str
    shop_a: str
    shop_b: str
    # variant ids: a1 (1500) and a2 (2500) sold by shop A, b1 (4000) by shop B
    a1: str
    a2: str
    b1: str
    manager_a: dict[str, str]
    manager_b: dict[str, str]
    buyer: Buyer
    other: Buyer
    order_staff: dict[str, str]
    app: FastAPI
    extra: dict[str, Any] = field(default_factory=dict)

    def basket(self, *lines: tuple[str, str, int], **more: Any) -> dict[str, Any]:
        items = [{"variant_id": v, "shop_id": s, "quantity": q} for v, s, q in lines]
        return {"items": items, "address_id": self.buyer.address_id, **more}


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def set_stock(
    client: httpx.AsyncClient, world: World, shop: str, variant: str, n: int
) -> None:
    response = await client.put(
        f"{API}/shops/{shop}/stock/{variant}", json={"quantity": n}, headers=world.staff
    )
    assert response.status_code == 200, response.text


async def stock_of(db: AsyncSession, shop: str, variant: str) -> tuple[int, int]:
    row = (
        await db.execute(
            select(Stock.quantity, Stock.reserved)
            .where(Stock.shop_id == shop, Stock.variant_id == variant)
            .execution_options(populate_existing=True)
        )
    ).one()
    return int(row[0]), int(row[1])


async def reload(db: AsyncSession, order_id: str) -> Order:
    order = await db.get(Order, order_id, populate_existing=True)
    assert order is not None
    await db.commit()
    return order


async def make_buyer(
    app: FastAPI, db: AsyncSession, zone_id: str, phone: str | None = "+237650000001"
) -> Buyer:
    user = await create_user(db, "customer", phone=phone)
    address = Address(
        user_id=user.id, label="Home", street="Rue 1", locality="Bastos", zone_id=zone_id
    )
    db.add(address)
    await db.commit()
    return Buyer(user=user, headers=await headers_for(app, user), address_id=address.id)


@pytest.fixture
async def world(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: AsyncSession,
    staff: dict[str, str],
    auth_headers: AuthHeaders,
) -> World:
    zone = await make_zone(client, staff, delivery_fee=FEE)
    shop_a = await make_shop(client, staff, zone["id"])
    shop_b = await make_shop(client, staff, zone["id"])
    category = await make_category(client, staff, f"Food {uuid.uuid4().hex[:6]}")
    product = await make_product(client, staff, category["id"], name_fr="Riz", prices=(1500, 2500))
    other = await make_product(client, staff, category["id"], name_fr="Huile", prices=(4000,))
    a1, a2 = (v["id"] for v in product["variants"])
    b1 = other["variants"][0]["id"]
    managers = []
    for shop in (shop_a, shop_b):
        manager = await create_user(db, "shop_manager")
        await db.execute(insert(shop_managers), [{"shop_id": shop["id"], "user_id": manager.id}])
        await db.commit()
        managers.append(await headers_for(app, manager))
    order_staff = await auth_headers(
        "ordstaff000000000000000000000001", permissions=["orders:read", "orders:write"]
    )
    world = World(
        staff=staff,
        zone_id=zone["id"],
        shop_a=shop_a["id"],
        shop_b=shop_b["id"],
        a1=a1,
        a2=a2,
        b1=b1,
        manager_a=managers[0],
        manager_b=managers[1],
        buyer=await make_buyer(app, db, zone["id"]),
        other=await make_buyer(app, db, zone["id"]),
        order_staff=order_staff,
        app=app,
    )
    for shop_id, variant in ((world.shop_a, a1), (world.shop_a, a2), (world.shop_b, b1)):
        await set_stock(client, world, shop_id, variant, 10)
    return world


async def place(
    client: httpx.AsyncClient,
    world: World,
    *lines: tuple[str, str, int],
    buyer: Buyer | None = None,
    **more: Any,
) -> dict[str, Any]:
    buyer = buyer or world.buyer
    body = {
        "items": [{"variant_id": v, "shop_id": s, "quantity": q} for v, s, q in lines],
        "address_id": buyer.address_id,
        **more,
    }
    response = await client.post(f"{API}/orders", json=body, headers={**buyer.headers, **key()})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def run_jobs(app: FastAPI) -> None:
    await run_pending(app.state.db, app.state.settings)
