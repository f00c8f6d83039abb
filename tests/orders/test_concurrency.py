"""Concurrent checkouts through the ASGI app: stock is never sold twice, a promotion never used
past its limits, and every refusal is a clean 409 (no 5xx), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.orders.conftest import API, Buyer, World, key, make_buyer, set_stock, stock_of

from loumo.orders.models import Order
from loumo.promotions.models import Promotion, PromotionRedemption


async def _order(
    client: httpx.AsyncClient, buyer: Buyer, body: Mapping[str, object]
) -> httpx.Response:
    payload = {**body, "address_id": buyer.address_id}
    return await client.post(f"{API}/orders", json=payload, headers={**buyer.headers, **key()})


async def test_thirty_buyers_five_units_exactly_five_orders(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    await set_stock(client, world, world.shop_a, world.a1, 5)
    buyers = [world.buyer, world.other] + [
        await make_buyer(world.app, db, world.zone_id) for _ in range(4)
    ]
    body = {"items": [{"variant_id": world.a1, "shop_id": world.shop_a, "quantity": 1}]}
    responses = await asyncio.gather(
        *(_order(client, buyers[i % len(buyers)], body) for i in range(30))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 5, 409: 25}, [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_stock"}
    assert await stock_of(db, world.shop_a, world.a1) == (5, 5)  # all five held, none oversold
    assert await db.scalar(select(func.count()).select_from(Order)) == 5


async def test_two_line_baskets_in_both_orders_never_deadlock_or_oversell(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    """Baskets naming the same two stock rows, half in each order, race: the rows are taken in
    one order whatever the basket's (no deadlock, no 5xx) and the scarcer line caps the orders,
    with nothing reserved by the refused ones."""
    await set_stock(client, world, world.shop_a, world.a1, 6)
    await set_stock(client, world, world.shop_b, world.b1, 4)
    buyers = [world.buyer, world.other] + [
        await make_buyer(world.app, db, world.zone_id) for _ in range(4)
    ]
    a1 = {"variant_id": world.a1, "shop_id": world.shop_a, "quantity": 1}
    b1 = {"variant_id": world.b1, "shop_id": world.shop_b, "quantity": 1}
    responses = await asyncio.gather(
        *(
            _order(client, buyers[i % len(buyers)], {"items": [a1, b1] if i % 2 else [b1, a1]})
            for i in range(20)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 4, 409: 16}, [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_stock"}
    assert await stock_of(db, world.shop_a, world.a1) == (6, 4)
    assert await stock_of(db, world.shop_b, world.b1) == (4, 4)


async def test_a_code_limited_to_three_uses_is_held_by_three_orders(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    db.add(Promotion(code="THREE", kind="fixed", value=100, max_uses=3))
    await db.commit()
    buyers = [await make_buyer(world.app, db, world.zone_id) for _ in range(10)]
    body = {
        "items": [{"variant_id": world.b1, "shop_id": world.shop_b, "quantity": 1}],
        "promo_code": "THREE",
    }
    responses = await asyncio.gather(*(_order(client, b, body) for b in buyers))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 3, 409: 7}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "promotion_unavailable"
    }
    assert await db.scalar(select(Promotion.uses_count)) == 3
    assert await db.scalar(select(func.count()).select_from(PromotionRedemption)) == 3
    # The refused orders reserved nothing.
    assert await stock_of(db, world.shop_b, world.b1) == (10, 3)


async def test_one_customer_racing_a_once_per_customer_code_gets_it_once(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    db.add(Promotion(code="MINE", kind="fixed", value=100, max_uses_per_customer=1))
    await db.commit()
    body = {
        "items": [{"variant_id": world.b1, "shop_id": world.shop_b, "quantity": 1}],
        "promo_code": "MINE",
    }
    responses = await asyncio.gather(*(_order(client, world.buyer, body) for _ in range(6)))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 5}
    assert await stock_of(db, world.shop_b, world.b1) == (10, 1)


async def test_one_key_sent_many_times_at_once_makes_one_order(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    headers = {**world.buyer.headers, **key()}
    body = {
        "items": [{"variant_id": world.a1, "shop_id": world.shop_a, "quantity": 1}],
        "address_id": world.buyer.address_id,
    }
    responses = await asyncio.gather(
        *(client.post(f"{API}/orders", json=body, headers=headers) for _ in range(8))
    )
    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {201, 409} and codes[201] >= 1
    assert {r.json()["id"] for r in responses if r.status_code == 201} != set()
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    conflicts = {r.json()["code"] for r in responses if r.status_code == 409}
    assert conflicts <= {"idempotency_key_in_flight"}
    assert await db.scalar(select(func.count()).select_from(Order)) == 1
    assert await stock_of(db, world.shop_a, world.a1) == (10, 1)
