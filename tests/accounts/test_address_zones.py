"""An address is placed in its zone when saved: by polygon, else by locality (case and accents
aside); a zone the client names must be active and cover it; none covering it is a 400."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Address, User
from tests.factories import auth_headers, count, create_zone

API = "/api/v1"
SQUARE = [[3.88, 11.50], [3.88, 11.52], [3.90, 11.52], [3.90, 11.50]]
HOME = {"label": "Home", "street": "Rue 1"}


async def _post(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post(f"{API}/me/addresses", headers=headers, json={**HOME, **body})


async def test_an_address_is_placed_by_locality_whatever_the_case_and_accents(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, customer: User
) -> None:
    bastos = await create_zone(db, name="Yaoundé Bastos", localities=["Bastos", "Golf"])
    akwa = await create_zone(db, name="Douala Akwa", localities=["Akwa", "Deïdo"])
    headers = await auth_headers(app, customer)
    for locality, zone in (("Bastos", bastos), ("bastos", bastos), ("Bâstos", bastos)):
        response = await _post(client, headers, locality=locality)
        assert response.status_code == 201, response.text
        assert response.json()["zone_id"] == zone.id
        assert response.json()["locality"] == locality  # kept as written
    assert (await _post(client, headers, locality="DEIDO")).json()["zone_id"] == akwa.id


async def test_coordinates_inside_a_polygon_win_over_the_locality(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, customer: User
) -> None:
    mapped = await create_zone(db, name="Z mapped", polygon=SQUARE)
    named = await create_zone(db, name="A named", localities=["Bastos"])
    headers = await auth_headers(app, customer)
    inside = await _post(client, headers, locality="Bastos", latitude=3.89, longitude=11.51)
    assert inside.json()["zone_id"] == mapped.id
    outside = await _post(client, headers, locality="Bastos", latitude=4.05, longitude=9.70)
    assert outside.json()["zone_id"] == named.id
    unnamed = await _post(client, headers, locality="Quartier X", latitude=3.89, longitude=11.51)
    assert unnamed.json()["zone_id"] == mapped.id


async def test_a_zone_given_by_the_client_must_cover_the_address(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, customer: User
) -> None:
    akwa = await create_zone(db, name="Douala Akwa", localities=["Akwa"])
    mapped = await create_zone(db, name="Mapped", polygon=SQUARE)
    plain = await create_zone(db, name="Plain")  # no coverage data: takes what it is given
    headers = await auth_headers(app, customer)

    for body in (
        {"locality": "Bastos", "zone_id": akwa.id},
        {"locality": "Bastos", "zone_id": mapped.id},  # no coordinates: cannot tell
        {"locality": "Bastos", "zone_id": mapped.id, "latitude": 4.0, "longitude": 9.7},
    ):
        refused = await _post(client, headers, **body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "address_outside_zone"
        assert refused.json()["field"] == "zone_id"
    assert await count(db, Address) == 0

    kept = await _post(client, headers, locality="AKWA", zone_id=akwa.id)
    assert kept.status_code == 201 and kept.json()["zone_id"] == akwa.id
    located = await _post(
        client, headers, locality="Bastos", zone_id=mapped.id, latitude=3.89, longitude=11.51
    )
    assert located.status_code == 201 and located.json()["zone_id"] == mapped.id
    assigned = await _post(client, headers, locality="Anywhere", zone_id=plain.id)
    assert assigned.status_code == 201 and assigned.json()["zone_id"] == plain.id


async def test_an_address_no_zone_covers_is_400(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, customer: User
) -> None:
    await create_zone(db, name="Plain")  # covers nothing by itself
    await create_zone(db, name="Retired", localities=["Bastos"], is_active=False)
    await create_zone(db, name="Mapped", polygon=SQUARE)
    headers = await auth_headers(app, customer)
    for body in (
        {"locality": "Bastos"},
        {"locality": "Bastos", "zone_id": None},
        {"locality": "Bastos", "latitude": 4.05, "longitude": 9.70},
    ):
        response = await _post(client, headers, **body)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "address_outside_zones"
        assert response.json()["field"] == "locality"
    assert await count(db, Address) == 0


async def test_moving_an_address_places_it_again(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, customer: User
) -> None:
    bastos = await create_zone(db, name="Yaoundé Bastos", localities=["Bastos"])
    akwa = await create_zone(db, name="Douala Akwa", localities=["Akwa"])
    plain = await create_zone(db, name="Plain")
    headers = await auth_headers(app, customer)
    created = (await _post(client, headers, locality="Bastos")).json()
    url = f"{API}/me/addresses/{created['id']}"

    relabelled = await client.patch(url, headers=headers, json={"label": "Maison"})
    assert relabelled.json()["zone_id"] == bastos.id
    moved = await client.patch(url, headers=headers, json={"locality": "akwa"})
    assert moved.status_code == 200 and moved.json()["zone_id"] == akwa.id
    lost = await client.patch(url, headers=headers, json={"locality": "Nowhere"})
    assert lost.status_code == 400 and lost.json()["code"] == "address_outside_zones"
    outside = await client.patch(url, headers=headers, json={"zone_id": bastos.id})
    assert outside.status_code == 400 and outside.json()["code"] == "address_outside_zone"
    given = await client.patch(url, headers=headers, json={"zone_id": plain.id})
    assert given.status_code == 200 and given.json()["zone_id"] == plain.id
    # A zone without coverage data keeps the address it was given when it moves.
    kept = await client.patch(url, headers=headers, json={"locality": "Bastos"})
    assert kept.status_code == 200 and kept.json()["zone_id"] == plain.id
    stored = (await client.get(url, headers=headers)).json()
    assert (stored["locality"], stored["zone_id"]) == ("Bastos", plain.id)
