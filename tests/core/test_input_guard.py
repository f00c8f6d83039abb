"""Input that the database cannot hold is a 4xx problem document on every route, never a 500.

PostgreSQL refuses a NUL character in text and integers beyond a column's range, and asyncpg
cannot send an instant outside the years 1-9999 once converted to UTC: each of these used to
reach the database and come back as a 500. One table sends them to every route family (zones,
products, shops and stock, promotions, orders, audit, accounts) as path, query, header and
JSON body values.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from loumo.core.schemas import Input
from tests.conftest import CATALOG_STAFF, AuthHeaders
from tests.factories import make_category, make_product, make_shop, make_zone

API = "/api/v1"
STAFF = (
    *CATALOG_STAFF,
    "promotions:read",
    "promotions:write",
    "orders:read",
    "orders:write",
    "audit:read",
    "users:read",
)
BIG = 3_000_000_000  # beyond a signed 32-bit column
HUGE = 10**30  # beyond any integer column


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture
async def staff(auth_headers: AuthHeaders) -> dict[str, str]:
    return await auth_headers("guardstaff000000000000000000001", permissions=STAFF)


@pytest.fixture
async def world(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, str]:
    zone = await make_zone(client, staff)
    shop = await make_shop(client, staff, zone["id"])
    category = await make_category(client, staff, "Épicerie")
    product = await make_product(client, staff, category["id"], name_fr="Riz", prices=[1500])
    promotion = await client.post(
        f"{API}/promotions", json={"code": "GUARD10", "kind": "fixed", "value": 100}, headers=staff
    )
    assert promotion.status_code == 201, promotion.text
    return {
        "zone": zone["id"],
        "shop": shop["id"],
        "product": product["id"],
        "variant": product["variants"][0]["id"],
        "promotion": promotion.json()["id"],
    }


def promotion(**overrides: Any) -> dict[str, Any]:
    return {"code": "BIGONE", "kind": "fixed", "value": 100, **overrides}


def basket(world: dict[str, str], **line: Any) -> list[dict[str, Any]]:
    return [{"variant_id": world["variant"], "shop_id": world["shop"], "quantity": 1, **line}]


NUL_CURSOR = cursor({"s": "promotions", "id": "a\x00b"})
OLD_INSTANT = cursor({"t": "0001-01-01T00:00:00+05:00", "id": "x"})
LATE_INSTANT = cursor({"t": "9999-12-31T23:59:59-05:00", "id": "x"})
NO_INSTANT = cursor({"t": "not a time", "id": "x"})
HUGE_PRICE = cursor({"s": "price", "v": HUGE, "id": "x"})

# (method, path, params, json body); `{zone}` etc. are filled from the world.
CASES: list[tuple[str, str, dict[str, str] | None, Any]] = [
    # NUL in a path parameter
    ("GET", "/zones/a%00b", None, None),
    ("PATCH", "/zones/a%00b", None, {"name": "x"}),
    ("GET", "/products/a%00b", None, None),
    ("GET", "/variants/a%00b", None, None),
    ("GET", "/categories/a%00b", None, None),
    ("GET", "/shops/a%00b", None, None),
    ("GET", "/shops/{shop}/stock/a%00b", None, None),
    ("PUT", "/shops/a%00b/stock/{variant}", None, {"quantity": 1}),
    ("GET", "/promotions/a%00b", None, None),
    ("GET", "/orders/a%00b", None, None),
    ("POST", "/orders/a%00b/cancel", None, None),
    ("GET", "/payments/a%00b", None, None),
    ("GET", "/users/a%00b", None, None),
    # NUL in a query parameter
    ("GET", "/products", {"q": "a\x00b"}, None),
    ("GET", "/products", {"category_id": "a\x00b"}, None),
    ("GET", "/products", {"shop_id": "a\x00b"}, None),
    ("GET", "/shops", {"zone_id": "a\x00b"}, None),
    ("GET", "/orders", {"shop_id": "a\x00b"}, None),
    ("GET", "/audit-log", {"entity_id": "a\x00b"}, None),
    # cursors: NUL inside, impossible instants, numbers beyond any column
    ("GET", "/promotions", {"cursor": NUL_CURSOR}, None),
    ("GET", "/shops", {"cursor": cursor({"s": "shops", "id": "a\x00b"})}, None),
    ("GET", "/products", {"cursor": cursor({"s": "newest", "v": "a\x00b", "id": "x"})}, None),
    ("GET", "/products", {"cursor": HUGE_PRICE, "sort": "price"}, None),
    ("GET", "/orders", {"cursor": OLD_INSTANT}, None),
    ("GET", "/orders", {"cursor": LATE_INSTANT}, None),
    ("GET", "/orders", {"cursor": NO_INSTANT}, None),
    ("GET", "/audit-log", {"cursor": OLD_INSTANT}, None),
    ("GET", "/users", {"cursor": LATE_INSTANT}, None),
    ("GET", "/shops/{shop}/stock", {"cursor": NUL_CURSOR}, None),
    # NUL in JSON bodies, at any depth
    ("POST", "/zones", None, {"name": "a\x00b", "delivery_fee": 100}),
    ("PATCH", "/zones/{zone}", None, {"name": "a\x00b"}),
    ("POST", "/promotions", None, promotion(description="a\x00b")),
    ("PATCH", "/promotions/{promotion}", None, {"description": "a\x00b"}),
    ("POST", "/promotions/validate", None, {"code": "a\x00b", "items": "{basket}"}),
    ("POST", "/checkout/quote", None, {"items": "{basket}", "promo_code": "a\x00b"}),
    ("PATCH", "/products/{product}", None, {"description_fr": "a\x00b"}),
    ("PATCH", "/variants/{variant}", None, {"name": "a\x00b"}),
    # integers beyond their column
    ("POST", "/promotions", None, promotion(value=BIG)),
    ("POST", "/promotions", None, promotion(value=HUGE)),
    ("POST", "/promotions", None, promotion(max_uses=BIG)),
    ("POST", "/promotions", None, promotion(max_uses_per_customer=HUGE)),
    ("POST", "/promotions", None, promotion(min_order_amount=BIG)),
    ("PATCH", "/promotions/{promotion}", None, {"value": BIG}),
    ("PATCH", "/promotions/{promotion}", None, {"max_uses": BIG}),
    ("PATCH", "/zones/{zone}", None, {"delivery_fee": HUGE}),
    ("PUT", "/shops/{shop}/stock/{variant}", None, {"quantity": HUGE}),
    ("POST", "/shops/{shop}/stock/{variant}/adjustments", None, {"delta": -HUGE}),
    ("PATCH", "/variants/{variant}", None, {"price": HUGE}),
    ("GET", "/products", {"min_price": str(HUGE)}, None),
    ("POST", "/promotions/validate", None, {"code": "X1", "items": "{basket:quantity}"}),
    # null where it cannot be null
    ("PATCH", "/promotions/{promotion}", None, {"is_active": None}),
    ("PATCH", "/zones/{zone}", None, {"is_active": None}),
]


def _fill(value: Any, world: dict[str, str]) -> Any:
    if value == "{basket}":
        return basket(world)
    if value == "{basket:quantity}":
        return basket(world, quantity=HUGE)
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, str):
        return value.format(**world)
    return value


@pytest.mark.parametrize(("method", "path", "params", "body"), CASES)
async def test_input_the_database_cannot_hold_is_a_4xx_problem(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    world: dict[str, str],
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: Any,
) -> None:
    response = await client.request(
        method,
        API + _fill(path, world),
        params=params,
        json=_fill(body, world),
        headers=staff,
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json", response.text
    assert response.json()["status"] == response.status_code


async def test_the_guard_says_which_parameter_holds_a_nul(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    in_query = await client.get(f"{API}/products", params={"q": "a\x00b"})
    assert in_query.status_code == 422
    assert in_query.json()["errors"] == [
        {
            "field": "q",
            "location": "query",
            "message": "NUL characters are not allowed",
            "type": "null_character",
        }
    ]
    in_path = await client.get(f"{API}/zones/a%00b")
    assert in_path.status_code == 422
    assert in_path.json()["errors"][0]["location"] == "path"
    in_body = await client.post(
        f"{API}/promotions", json=promotion(description="a\x00b"), headers=staff
    )
    assert in_body.status_code == 422
    assert [(e["field"], e["type"]) for e in in_body.json()["errors"]] == [
        ("description", "null_character")
    ]


async def test_integers_beyond_their_column_name_the_field(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    response = await client.post(f"{API}/promotions", json=promotion(max_uses=BIG), headers=staff)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["location"]) == ("max_uses", "body")


class Body(Input):
    count: int
    tags: list[str] = []
    limits: dict[str, int] = {}


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"count": 2**31}, "int_out_of_range"),
        ({"count": -(2**31) - 1}, "int_out_of_range"),
        ({"count": 1, "limits": {"a": 10**30}}, "int_out_of_range"),
        ({"count": 1, "tags": ["ok", "a\x00b"]}, "null_character"),
        ({"count": 1, "limits": {"a\x00": 1}}, "null_character"),
    ],
)
def test_every_input_refuses_values_no_column_holds(data: dict[str, Any], kind: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate(data)
    [error] = caught.value.errors()
    assert error["type"] == kind


def test_every_input_keeps_values_a_column_holds() -> None:
    body = Body.model_validate({"count": 2**31 - 1, "tags": ["é"], "limits": {"a": -(2**31)}})
    assert body.count == 2**31 - 1


async def test_a_nul_in_a_header_value_is_refused(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    response = await client.post(
        f"{API}/promotions",
        json=promotion(),
        headers={**staff, "Idempotency-Key": "a\x00b"},
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
