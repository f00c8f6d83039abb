"""Shops: public reads, staff writes, managers."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.shops.managers import managed_shop_ids
from tests.conftest import AuthHeaders
from tests.factories import create_user, make_shop, make_zone


async def test_staff_create_shops_that_everyone_can_read(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    zone = await make_zone(client, staff)
    hours = {"mon": [{"open": "08:00", "close": "12:30"}, {"open": "14:00", "close": "19:00"}]}
    shop = await make_shop(
        client,
        staff,
        zone["id"],
        name="Épicerie d'Akwa",
        opening_hours=hours,
        phone="+237 699 00 00 00",
    )
    assert shop["slug"] == "epicerie-d-akwa" and shop["opening_hours"] == hours
    closed = await make_shop(client, staff, zone["id"], is_active=False)

    assert (await client.get(f"/api/v1/shops/{shop['slug']}")).json()["id"] == shop["id"]
    assert (await client.get(f"/api/v1/shops/{closed['id']}")).status_code == 404
    public = (await client.get("/api/v1/shops")).json()
    assert [s["id"] for s in public["items"]] == [shop["id"]]

    pages: list[str] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/shops", params=params, headers=staff)).json()
        pages += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == sorted([shop["id"], closed["id"]])

    renamed = await client.patch(
        f"/api/v1/shops/{shop['id']}", json={"name": "Akwa"}, headers=staff
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Akwa"
    assert (await client.delete(f"/api/v1/shops/{shop['id']}", headers=staff)).status_code == 204
    assert (await client.get(f"/api/v1/shops/{shop['id']}")).status_code == 404


async def test_bad_shops_are_refused(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders
) -> None:
    zone = await make_zone(client, staff)
    await make_shop(client, staff, zone["id"], slug="taken")
    cases = [
        ({"name": "X", "zone_id": "missing"}, 400),
        ({"name": "X", "zone_id": zone["id"], "slug": "taken"}, 409),
        (
            {
                "name": "X",
                "zone_id": zone["id"],
                "opening_hours": {"mon": [{"open": "20:00", "close": "08:00"}]},
            },
            422,
        ),
        ({"name": "X", "zone_id": zone["id"], "opening_hours": {"moon": []}}, 422),
        ({"name": "", "zone_id": zone["id"]}, 422),
    ]
    for body, status in cases:
        response = await client.post("/api/v1/shops", json=body, headers=staff)
        assert response.status_code == status, (body, response.text)
    manager = await auth_headers("manager0000000000000000000000001", permissions=["stock:write"])
    response = await client.post(
        "/api/v1/shops", json={"name": "X", "zone_id": zone["id"]}, headers=manager
    )
    assert response.status_code == 403
    assert (await client.get("/api/v1/shops", params={"cursor": "???"})).status_code == 400
    assert len((await client.get("/api/v1/shops", headers=staff)).json()["items"]) == 1


async def test_managers_are_assigned_and_listed(
    client: httpx.AsyncClient, staff: dict[str, str], db: AsyncSession
) -> None:
    zone = await make_zone(client, staff)
    one = await make_shop(client, staff, zone["id"])
    two = await make_shop(client, staff, zone["id"])
    user = (await create_user(db)).id
    for shop in (one, two, one):
        response = await client.put(f"/api/v1/shops/{shop['id']}/managers/{user}", headers=staff)
        assert response.status_code == 204
    assert await managed_shop_ids(db, user) == {one["id"], two["id"]}
    managers = await client.get(f"/api/v1/shops/{one['id']}/managers", headers=staff)
    assert managers.json() == {"items": [user], "next_cursor": None}
    await client.delete(f"/api/v1/shops/{one['id']}/managers/{user}", headers=staff)
    assert await managed_shop_ids(db, user) == {two["id"]}
    too_long = await client.put(f"/api/v1/shops/{one['id']}/managers/{'x' * 40}", headers=staff)
    assert too_long.status_code == 422
    nobody = await client.put(f"/api/v1/shops/{one['id']}/managers/{'n' * 32}", headers=staff)
    assert nobody.status_code == 404 and nobody.json()["code"] == "not_found"
    assert await managed_shop_ids(db, "n" * 32) == set()
