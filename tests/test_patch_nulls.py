"""Same rule, same status: an explicit `null` for a field that cannot be null is a 422 in every
PATCH, with one field error per offending field, and changes nothing; `null` on a field that may
be cleared clears it."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from loumo.accounts.models import User
from tests.conftest import CATALOG_STAFF, AuthHeaders
from tests.factories import auth_headers as user_headers
from tests.factories import make_category, make_product, make_shop, make_zone

API = "/api/v1"


async def _refused(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any]
) -> None:
    before = (await client.get(url, headers=headers)).json()
    response = await client.patch(url, json=body, headers=headers)
    assert response.status_code == 422, (url, body, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert sorted((e["field"], e["location"], e["type"]) for e in problem["errors"]) == sorted(
        (field, "body", "null_not_allowed") for field in body
    )
    assert (await client.get(url, headers=headers)).json() == before


async def test_every_patch_refuses_nulls_the_same_way(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app: FastAPI, customer: User
) -> None:
    staff = await auth_headers(
        "nullstaff00000000000000000000001",
        permissions=(*CATALOG_STAFF, "promotions:read", "promotions:write"),
    )
    zone = await make_zone(client, staff)
    shop = await make_shop(client, staff, zone["id"])
    category = await make_category(client, staff, "Nulls")
    product = await make_product(client, staff, category["id"], name_fr="Nul")
    promotion = await client.post(
        f"{API}/promotions", json={"code": "NULLS", "kind": "fixed", "value": 100}, headers=staff
    )
    me = await user_headers(app, customer)

    cases: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        (f"{API}/me", me, {"name": None, "language": None}),
        (f"{API}/zones/{zone['id']}", staff, {"name": None, "delivery_fee": None}),
        (f"{API}/shops/{shop['id']}", staff, {"name": None, "opening_hours": None}),
        (f"{API}/categories/{category['id']}", staff, {"slug": None, "is_active": None}),
        (f"{API}/products/{product['id']}", staff, {"name_fr": None, "category_id": None}),
        (f"{API}/variants/{product['variants'][0]['id']}", staff, {"price": None}),
        (f"{API}/promotions/{promotion.json()['id']}", staff, {"is_active": None}),
        (f"{API}/promotions/{promotion.json()['id']}", staff, {"value": None, "description": None}),
    ]
    for url, headers, body in cases:
        await _refused(client, url, headers, body)


async def test_null_clears_the_fields_that_may_be_cleared(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders
) -> None:
    zone = await make_zone(client, staff)
    shop = await make_shop(client, staff, zone["id"], phone="+237 699 00 11 22")
    cleared = await client.patch(f"{API}/shops/{shop['id']}", json={"phone": None}, headers=staff)
    assert cleared.status_code == 200 and cleared.json()["phone"] is None

    promo_staff = await auth_headers(
        "promonulls0000000000000000000001", permissions=["promotions:write"]
    )
    created = await client.post(
        f"{API}/promotions",
        json={"code": "LIMITED", "kind": "fixed", "value": 100, "max_uses": 5},
        headers=promo_staff,
    )
    lifted = await client.patch(
        f"{API}/promotions/{created.json()['id']}", json={"max_uses": None}, headers=promo_staff
    )
    assert lifted.status_code == 200 and lifted.json()["max_uses"] is None
