"""A quote or an order for an address outside every active zone is a 400 `address_outside_zones`,
also when the zone's coverage changed since the address was saved; an address another active
zone covers now is priced with that zone."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories import count, make_zone
from tests.orders.conftest import API, FEE, World, key

from loumo.orders.models import Order


async def test_quote_and_order_follow_the_coverage_of_the_zones(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    body = world.basket((world.a1, world.shop_a, 1))
    headers = world.buyer.headers

    async def quote() -> httpx.Response:
        return await client.post(f"{API}/checkout/quote", json=body, headers=headers)

    before = await quote()  # the zone has no coverage data: it keeps its addresses
    assert before.status_code == 200 and before.json()["zone_id"] == world.zone_id

    zone_url = f"{API}/zones/{world.zone_id}"
    narrowed = await client.patch(zone_url, json={"localities": ["Akwa"]}, headers=world.staff)
    assert narrowed.status_code == 200
    refused = await quote()
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "address_outside_zones"
    assert refused.json()["field"] == "address_id"
    ordered = await client.post(f"{API}/orders", json=body, headers={**headers, **key()})
    assert ordered.status_code == 400 and ordered.json()["code"] == "address_outside_zones"
    assert await count(db, Order) == 0

    # Another active zone covers the address now (the buyer's locality is "Bastos"): its fee.
    other = await make_zone(client, world.staff, delivery_fee=2500, localities=["bâstos"])
    moved = await quote()
    assert moved.status_code == 200 and moved.json()["zone_id"] == other["id"]
    assert moved.json()["delivery_fee"] == 2500
    placed = await client.post(f"{API}/orders", json=body, headers={**headers, **key()})
    assert placed.status_code == 201 and placed.json()["delivery_fee"] == 2500

    # The address's own zone covers it again: it wins.
    widened = await client.patch(
        zone_url, json={"localities": ["Akwa", "BASTOS"]}, headers=world.staff
    )
    assert widened.status_code == 200
    back = await quote()
    assert back.json()["zone_id"] == world.zone_id and back.json()["delivery_fee"] == FEE

    retired = await client.patch(
        f"{API}/zones/{other['id']}", json={"is_active": False}, headers=world.staff
    )
    assert retired.status_code == 200
    await client.patch(zone_url, json={"is_active": False}, headers=world.staff)
    gone = await quote()
    assert gone.status_code == 400 and gone.json()["code"] == "address_outside_zones"
