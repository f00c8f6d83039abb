"""GET/PATCH /me and the caller's delivery addresses."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Address, User
from tests.factories import auth_headers, count, create_zone

API = "/api/v1"


async def test_patch_me_changes_only_what_a_user_may(
    client: httpx.AsyncClient, app: FastAPI, customer: User
) -> None:
    headers = await auth_headers(app, customer)
    changed = await client.patch(
        f"{API}/me", headers=headers, json={"name": "Ada L.", "phone": "+237 6 99 00 11 22"}
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Ada L." and changed.json()["phone"] == "+237 6 99 00 11 22"
    for forbidden in (
        {"fidelity_points": 9999},
        {"email": "new@example.com"},
        {"roles": ["admin"]},
        {"name": None},
        {"language": "xx"},
    ):
        refused = await client.patch(f"{API}/me", headers=headers, json=forbidden)
        assert refused.status_code == 422, forbidden
    me = (await client.get(f"{API}/me", headers=headers)).json()
    assert me["fidelity_points"] == 0 and me["roles"] == ["customer"]
    assert me["email"] == customer.email


async def test_address_crud_and_default(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, customer: User
) -> None:
    zone = await create_zone(db)
    headers = await auth_headers(app, customer)
    base = {"label": "Home", "street": "Rue 1", "locality": "Bastos", "zone_id": zone.id}
    first = await client.post(f"{API}/me/addresses", headers=headers, json=base)
    assert first.status_code == 201, first.text
    assert first.json()["is_default"] is True
    second = await client.post(
        f"{API}/me/addresses",
        headers=headers,
        json={**base, "label": "Work", "latitude": 3.87, "longitude": 11.52},
    )
    assert second.json()["is_default"] is False
    promoted = await client.patch(
        f"{API}/me/addresses/{second.json()['id']}", headers=headers, json={"is_default": True}
    )
    assert promoted.json()["is_default"] is True
    listed = (await client.get(f"{API}/me/addresses", headers=headers)).json()["items"]
    assert [a["label"] for a in listed] == ["Work", "Home"]
    assert [a["is_default"] for a in listed] == [True, False]

    deleted = await client.delete(f"{API}/me/addresses/{second.json()['id']}", headers=headers)
    assert deleted.status_code == 204
    remaining = (await client.get(f"{API}/me/addresses", headers=headers)).json()["items"]
    assert [(a["label"], a["is_default"]) for a in remaining] == [("Home", True)]


async def test_unknown_zone_and_bad_coordinates_are_4xx(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, customer: User
) -> None:
    zone = await create_zone(db)
    inactive = await create_zone(db, is_active=False)
    headers = await auth_headers(app, customer)
    base = {"label": "Home", "street": "Rue 1", "locality": "Bastos", "zone_id": zone.id}
    for body in (
        {**base, "latitude": 91},
        {**base, "longitude": "east"},
        {**base, "label": ""},
        {**base, "zone_id": "a zone"},
    ):
        response = await client.post(f"{API}/me/addresses", headers=headers, json=body)
        assert response.status_code == 422, (body, response.text)
    for body in ({**base, "zone_id": "nope"}, {**base, "zone_id": inactive.id}):
        response = await client.post(f"{API}/me/addresses", headers=headers, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "unknown_zone"
        assert response.json()["field"] == "zone_id"
    assert await count(db, Address) == 0
    created = await client.post(f"{API}/me/addresses", headers=headers, json=base)
    moved = await client.patch(
        f"{API}/me/addresses/{created.json()['id']}", headers=headers, json={"zone_id": "nope"}
    )
    assert moved.status_code == 400 and moved.json()["code"] == "unknown_zone"


async def test_other_peoples_addresses_are_404(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: AsyncSession,
    customer: User,
    other_customer: User,
) -> None:
    zone = await create_zone(db)
    mine = await client.post(
        f"{API}/me/addresses",
        headers=await auth_headers(app, customer),
        json={"label": "Home", "street": "Rue 1", "locality": "Bastos", "zone_id": zone.id},
    )
    other = await auth_headers(app, other_customer)
    url = f"{API}/me/addresses/{mine.json()['id']}"
    assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.patch(url, headers=other, json={"label": "Mine"})).status_code == 404
    assert (await client.delete(url, headers=other)).status_code == 404
    assert (await client.get(f"{API}/me/addresses", headers=other)).json()["items"] == []
    assert (await client.get(url, headers=await auth_headers(app, customer))).json()[
        "label"
    ] == "Home"
