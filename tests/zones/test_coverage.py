"""Zone coverage: localities matched without regard to case or accents, polygons by ray casting,
set by staff through the zone routes (a bad polygon is a 422), and the zone an address falls in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.zones import service
from loumo.zones.coverage import area, inside, normalise_locality
from tests.factories import create_zone, make_zone

API = "/api/v1"
# Bastos, Yaoundé, roughly: a square of about 2 km around (3.89, 11.51).
SQUARE = [[3.88, 11.50], [3.88, 11.52], [3.90, 11.52], [3.90, 11.50]]
INNER = [[3.885, 11.505], [3.885, 11.510], [3.890, 11.510], [3.890, 11.505]]


def test_localities_compare_without_case_accents_or_punctuation() -> None:
    for name in ("Bastos", "bastos", "Bâstos", "  BASTOS ", "bAsToS"):
        assert normalise_locality(name) == "bastos"
    assert normalise_locality("Centre-Ville") == normalise_locality("centre  ville")
    assert normalise_locality("Deïdo") == normalise_locality("DEIDO") == "deido"
    assert normalise_locality("Bonanjo") != normalise_locality("Bonapriso")


def test_ray_casting_tells_inside_from_outside() -> None:
    assert inside(SQUARE, 3.89, 11.51)
    assert not inside(SQUARE, 3.91, 11.51) and not inside(SQUARE, 3.89, 11.49)
    # A concave "L": the notch is outside.
    ell = [[0, 0], [0, 2], [1, 2], [1, 1], [2, 1], [2, 0]]
    assert inside(ell, 0.5, 1.5) and inside(ell, 1.5, 0.5)
    assert not inside(ell, 1.5, 1.5)
    assert area(INNER) < area(SQUARE)


async def test_staff_set_and_read_coverage(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    zone = await make_zone(client, staff, localities=["Bastos", "Golf", "bâstos"], polygon=SQUARE)
    assert zone["localities"] == ["Bastos", "Golf"]  # one entry per locality
    assert zone["polygon"] == SQUARE
    assert (await client.get(f"{API}/zones/{zone['id']}")).json()["polygon"] == SQUARE

    url = f"{API}/zones/{zone['id']}"
    closed = await client.patch(url, json={"polygon": [*INNER, INNER[0]]}, headers=staff)
    assert closed.status_code == 200 and closed.json()["polygon"] == INNER  # ring closed: kept open
    cleared = await client.patch(url, json={"polygon": None, "localities": []}, headers=staff)
    assert cleared.status_code == 200
    assert cleared.json()["polygon"] is None and cleared.json()["localities"] == []

    plain = await make_zone(client, staff)
    assert plain["localities"] == [] and plain["polygon"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"polygon": [[3.88, 11.50], [3.90, 11.52]]},  # two points
        {"polygon": [[3.88, 11.50], [3.88, 11.50], [3.90, 11.52], [3.88, 11.50]]},  # 2 distinct
        {"polygon": [[91, 11.50], [3.88, 11.52], [3.90, 11.52]]},  # latitude out of range
        {"polygon": [[3.88, 181], [3.88, 11.52], [3.90, 11.52]]},  # longitude out of range
        {"polygon": [[3.88], [3.88, 11.52], [3.90, 11.52]]},  # not a pair
        {"polygon": [[3.88, 11.5, 1], [3.88, 11.52], [3.90, 11.52]]},  # a triple
        {"polygon": "square"},
        {"polygon": [["north", 11.5], [3.88, 11.52], [3.90, 11.52]]},
        {"localities": ["—"]},  # no letter at all
        {"localities": [""]},
        {"localities": "Bastos"},
    ],
)
async def test_bad_coverage_is_422_on_create_and_patch(
    client: httpx.AsyncClient, staff: dict[str, str], body: dict[str, Any]
) -> None:
    created = await client.post(
        f"{API}/zones", json={"name": "Nowhere", "delivery_fee": 0, **body}, headers=staff
    )
    assert created.status_code == 422, created.text
    field = next(iter(body))
    assert created.json()["errors"][0]["field"].split(".")[0] == field
    zone = await make_zone(client, staff)
    patched = await client.patch(f"{API}/zones/{zone['id']}", json=body, headers=staff)
    assert patched.status_code == 422, patched.text
    stored = (await client.get(f"{API}/zones/{zone['id']}", headers=staff)).json()
    assert (stored["localities"], stored["polygon"]) == ([], None)


async def test_zone_for_prefers_polygons_then_localities_and_ignores_inactive_zones(
    db: AsyncSession,
) -> None:
    wide = await create_zone(db, name="B wide", polygon=SQUARE)
    inner = await create_zone(db, name="C inner", polygon=INNER)
    named = await create_zone(db, name="A named", localities=["Bastos", "Deïdo"])
    twin = await create_zone(db, name="D twin", localities=["bastos"])
    await create_zone(db, name="E retired", localities=["Akwa"], is_active=False)
    await create_zone(db, name="F plain")

    async def found(locality: str, lat: float | None = None, lng: float | None = None) -> Any:
        zone = await service.zone_for(db, locality, lat, lng)
        return zone.name if zone else None

    assert await found("BÂSTOS") == named.name  # two zones name it: by name
    assert await found("deido") == named.name
    assert await found("Bastos", 3.887, 11.507) == inner.name  # in both polygons: the smaller
    assert await found("Bastos", 3.895, 11.515) == wide.name  # a polygon beats a locality
    assert await found("Bastos", 10.0, 10.0) == named.name  # outside every polygon
    assert await found("Akwa") is None  # only an inactive zone names it
    assert await found("Nowhere", 3.89) is None  # half a position is no position
    assert service.covers(twin, "Bâstos", None, None)
    assert not service.covers(wide, "Bastos", None, None)
