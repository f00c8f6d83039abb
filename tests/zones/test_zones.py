"""Zones: public reads of active zones, staff writes, deactivation when referenced."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.zones.models import Zone
from tests.conftest import AuthHeaders
from tests.factories import make_shop, make_zone


async def test_staff_manage_zones_and_public_sees_active_ones(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    north = await make_zone(client, staff, name="Nord", delivery_fee=1500)
    assert north["currency"] == "XAF" and north["delivery_fee"] == 1500
    south = await make_zone(client, staff, name="Sud", is_active=False)

    public = (await client.get("/api/v1/zones")).json()
    assert [z["name"] for z in public["items"]] == ["Nord"] and public["next_cursor"] is None
    assert (await client.get(f"/api/v1/zones/{south['id']}")).status_code == 404
    assert len((await client.get("/api/v1/zones", headers=staff)).json()["items"]) == 2

    response = await client.patch(
        f"/api/v1/zones/{north['id']}", json={"delivery_fee": 2000}, headers=staff
    )
    assert response.status_code == 200 and response.json()["delivery_fee"] == 2000


async def test_customers_cannot_write_zones(
    client: httpx.AsyncClient, auth_headers: AuthHeaders
) -> None:
    customer = await auth_headers("customer000000000000000000000001")
    response = await client.post(
        "/api/v1/zones", json={"name": "X", "delivery_fee": 1}, headers=customer
    )
    assert response.status_code == 403
    assert (
        await client.post("/api/v1/zones", json={"name": "X", "delivery_fee": 1})
    ).status_code == 401


async def test_bad_zones_are_refused_and_change_nothing(
    client: httpx.AsyncClient, staff: dict[str, str], db: AsyncSession
) -> None:
    await make_zone(client, staff, name="Centre")
    for body in (
        {"name": "Est", "delivery_fee": -1},
        {"name": "Est", "delivery_fee": 10, "currency": "xaf"},
        {"name": "", "delivery_fee": 10},
    ):
        response = await client.post("/api/v1/zones", json=body, headers=staff)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    duplicate = await client.post(
        "/api/v1/zones", json={"name": "Centre", "delivery_fee": 1}, headers=staff
    )
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "conflict"
    assert await db.scalar(select(func.count()).select_from(Zone)) == 1


async def test_delete_removes_an_unused_zone_and_deactivates_a_used_one(
    client: httpx.AsyncClient, staff: dict[str, str], db: AsyncSession
) -> None:
    unused = await make_zone(client, staff)
    used = await make_zone(client, staff)
    await make_shop(client, staff, used["id"])

    assert (await client.delete(f"/api/v1/zones/{unused['id']}", headers=staff)).status_code == 204
    assert (await client.delete(f"/api/v1/zones/{used['id']}", headers=staff)).status_code == 204

    assert await db.get(Zone, unused["id"]) is None
    kept = await db.get(Zone, used["id"])
    assert kept is not None and kept.is_active is False
