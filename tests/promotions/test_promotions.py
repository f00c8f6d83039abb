"""Promotions: staff manage codes, customers check them against a basket, paid orders count uses."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.promotions import uses
from loumo.promotions.models import Promotion, PromotionRedemption
from tests.conftest import CATALOG_STAFF, AuthHeaders
from tests.factories import create_user, make_category, make_product, make_shop, make_zone

API = "/api/v1"
PROMO_STAFF = (*CATALOG_STAFF, "promotions:read", "promotions:write")


@pytest.fixture
async def promo_staff(auth_headers: AuthHeaders) -> dict[str, str]:
    return await auth_headers("promostaff0000000000000000000001", permissions=PROMO_STAFF)


@pytest.fixture
async def buyer(auth_headers: AuthHeaders) -> dict[str, str]:
    return await auth_headers("buyer000000000000000000000000001")


@pytest.fixture
async def world(client: httpx.AsyncClient, promo_staff: dict[str, str]) -> dict[str, Any]:
    """Two categories (one nested), two products, two shops."""
    zone = await make_zone(client, promo_staff)
    shop_a = await make_shop(client, promo_staff, zone["id"])
    shop_b = await make_shop(client, promo_staff, zone["id"])
    dairy = await make_category(client, promo_staff, "Produits laitiers")
    cheese = await make_category(client, promo_staff, "Fromages", parent_id=dairy["id"])
    drinks = await make_category(client, promo_staff, "Boissons")
    brie = await make_product(client, promo_staff, cheese["id"], name_fr="Brie", prices=[3000])
    juice = await make_product(client, promo_staff, drinks["id"], name_fr="Jus", prices=[1000])
    return {
        "shops": (shop_a["id"], shop_b["id"]),
        "dairy": dairy["id"],
        "brie": brie,
        "juice": juice,
        "basket": [
            {"variant_id": brie["variants"][0]["id"], "shop_id": shop_a["id"], "quantity": 2},
            {"variant_id": juice["variants"][0]["id"], "shop_id": shop_b["id"], "quantity": 3},
        ],
    }


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    response = await client.post(f"{API}/promotions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _check(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/promotions/validate", json={"code": code, "items": items}, headers=headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_category_promotion_covers_descendants_only(
    client: httpx.AsyncClient, promo_staff: dict[str, str], buyer: dict[str, str], world: Any
) -> None:
    await _create(
        client,
        promo_staff,
        code="Fromage10",
        kind="percentage",
        value=10,
        scope="categories",
        target_ids=[world["dairy"]],
    )
    result = await _check(client, buyer, "fromage10", world["basket"])
    # Brie (2 x 3000) is under dairy > cheese; the juice (3 x 1000) is not.
    assert result == {
        "code": "FROMAGE10",
        "valid": True,
        "reason": None,
        "message": result["message"],
        "subtotal": 9000,
        "eligible_subtotal": 6000,
        "discount": 600,
        "currency": "XAF",
    }
    only_juice = [world["basket"][1]]
    refused = await _check(client, buyer, "FROMAGE10", only_juice)
    assert (refused["valid"], refused["reason"], refused["discount"]) == (
        False,
        "not_applicable",
        0,
    )


async def test_fixed_amount_minimum_and_shop_scope(
    client: httpx.AsyncClient, promo_staff: dict[str, str], buyer: dict[str, str], world: Any
) -> None:
    shop_b = world["shops"][1]
    await _create(
        client,
        promo_staff,
        code="SHOPB",
        kind="fixed",
        value=5000,
        scope="shops",
        target_ids=[shop_b],
        min_order_amount=8000,
    )
    result = await _check(client, buyer, "shopb", world["basket"])
    # Only the 3000 spent in shop B is eligible: a fixed amount never exceeds it.
    assert (result["valid"], result["eligible_subtotal"], result["discount"]) == (True, 3000, 3000)
    small = [{**world["basket"][1], "quantity": 1}]
    assert (await _check(client, buyer, "SHOPB", small))["reason"] == "minimum_not_reached"


async def test_unknown_retired_and_future_codes_look_alike_to_customers_not_to_staff(
    client: httpx.AsyncClient, promo_staff: dict[str, str], buyer: dict[str, str], world: Any
) -> None:
    now = utcnow()
    await _create(
        client,
        promo_staff,
        code="LATER",
        kind="percentage",
        value=5,
        starts_at=(now + timedelta(days=1)).isoformat(),
    )
    await _create(
        client,
        promo_staff,
        code="GONE",
        kind="percentage",
        value=5,
        starts_at=(now - timedelta(days=2)).isoformat(),
        ends_at=(now - timedelta(days=1)).isoformat(),
    )
    off = await _create(client, promo_staff, code="OFF", kind="percentage", value=5)
    deleted = await client.delete(f"{API}/promotions/{off['id']}", headers=promo_staff)
    assert deleted.status_code == 204
    basket = world["basket"]
    codes = ("LATER", "GONE", "OFF", "NOPE")
    answers = [await _check(client, buyer, code, basket) for code in codes]
    assert all(answer.pop("code") == code for answer, code in zip(answers, codes, strict=True))
    assert all(answer == answers[0] for answer in answers)  # same status, same body
    assert (answers[0]["valid"], answers[0]["reason"]) == (False, "not_valid")
    assert answers[0]["message"] == "This code is not valid"

    staff = [(await _check(client, promo_staff, code, basket))["reason"] for code in codes]
    assert staff == ["not_started", "expired", "inactive", "unknown_code"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"code": "P150", "kind": "percentage", "value": 150}, 422),
        ({"code": "S1", "kind": "fixed", "value": 100, "scope": "categories"}, 422),
        ({"code": "A1", "kind": "fixed", "value": 100, "target_ids": ["0" * 32]}, 422),
        (
            {
                "code": "T1",
                "kind": "fixed",
                "value": 100,
                "scope": "shops",
                "target_ids": ["0" * 32],
            },
            400,
        ),
        ({"code": "bad code!", "kind": "fixed", "value": 100}, 422),
        ({"code": "NEG", "kind": "fixed", "value": -5}, 422),
        (
            {
                "code": "W1",
                "kind": "fixed",
                "value": 5,
                "starts_at": "2030-01-02T00:00:00Z",
                "ends_at": "2030-01-01T00:00:00Z",
            },
            422,
        ),
    ],
)
async def test_bad_promotions_are_refused_and_change_nothing(
    client: httpx.AsyncClient,
    promo_staff: dict[str, str],
    app: FastAPI,
    body: dict[str, Any],
    status: int,
) -> None:
    response = await client.post(f"{API}/promotions", json=body, headers=promo_staff)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Promotion)) == 0


async def test_changes_follow_the_same_rules_as_creation(
    client: httpx.AsyncClient, promo_staff: dict[str, str], world: Any
) -> None:
    """Coherence rules live in the schema: a change that breaks one is a 422 on the field, as on
    creation, and changes nothing; a rule needing the stored uses is the service's (400)."""
    percent = await _create(
        client,
        promo_staff,
        code="TEN",
        kind="percentage",
        value=10,
        starts_at="2030-01-01T00:00:00Z",
    )
    dairy = {"scope": "categories", "target_ids": [world["dairy"]]}
    scoped = await _create(client, promo_staff, code="DAIRY", kind="fixed", value=100, **dairy)
    for promo, body, field in [
        (percent, {"value": 150}, "value"),
        (percent, {"target_ids": [world["dairy"]]}, "target_ids"),
        (percent, {"ends_at": "2029-12-31T00:00:00Z"}, "ends_at"),
        (percent, {"ends_at": "2029-12-31T00:00:00"}, "ends_at"),
        (scoped, {"target_ids": []}, "target_ids"),
    ]:
        url = f"{API}/promotions/{promo['id']}"
        before = (await client.get(url, headers=promo_staff)).json()
        response = await client.patch(url, json=body, headers=promo_staff)
        assert response.status_code == 422, (body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]
        assert (await client.get(url, headers=promo_staff)).json() == before

    moved = await client.patch(
        f"{API}/promotions/{percent['id']}",
        json={"starts_at": None, "ends_at": "2031-01-01T00:00:00", "value": 100},
        headers=promo_staff,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["starts_at"] is None and moved.json()["value"] == 100


async def test_codes_are_unique_whatever_the_case(
    client: httpx.AsyncClient, promo_staff: dict[str, str]
) -> None:
    await _create(client, promo_staff, code="Summer", kind="fixed", value=500)
    again = await client.post(
        f"{API}/promotions",
        json={"code": "SUMMER", "kind": "fixed", "value": 100},
        headers=promo_staff,
    )
    assert again.status_code == 409 and again.json()["code"] == "duplicate_code"


async def test_who_may_do_what(
    client: httpx.AsyncClient, promo_staff: dict[str, str], buyer: dict[str, str], world: Any
) -> None:
    promo = await _create(client, promo_staff, code="STAFFONLY", kind="fixed", value=100)
    body = {"code": "MINE", "kind": "fixed", "value": 100}
    assert (await client.post(f"{API}/promotions", json=body)).status_code == 401
    assert (await client.post(f"{API}/promotions", json=body, headers=buyer)).status_code == 403
    assert (await client.get(f"{API}/promotions", headers=buyer)).status_code == 403
    assert (await client.get(f"{API}/promotions/{promo['id']}", headers=buyer)).status_code == 403
    check = {"code": "STAFFONLY", "items": world["basket"]}
    assert (await client.post(f"{API}/promotions/validate", json=check)).status_code == 401
    listed = await client.get(f"{API}/promotions", headers=promo_staff)
    assert [p["code"] for p in listed.json()["items"]] == ["STAFFONLY"]
    missing = await client.get(f"{API}/promotions/{'0' * 32}", headers=promo_staff)
    assert missing.status_code == 404


async def test_unknown_basket_items_are_400(
    client: httpx.AsyncClient, promo_staff: dict[str, str], buyer: dict[str, str], world: Any
) -> None:
    await _create(client, promo_staff, code="ANY", kind="fixed", value=100)
    items = [{**world["basket"][0], "variant_id": "f" * 32}]
    response = await client.post(
        f"{API}/promotions/validate", json={"code": "ANY", "items": items}, headers=buyer
    )
    assert response.status_code == 400 and response.json()["code"] == "unknown_basket_item"
    bad = {"code": "ANY", "items": [{**world["basket"][0], "quantity": 0}]}
    response = await client.post(f"{API}/promotions/validate", json=bad, headers=buyer)
    assert response.status_code == 422


async def test_validation_is_rate_limited_per_customer(
    client: httpx.AsyncClient, buyer: dict[str, str], world: Any
) -> None:
    body = {"code": "WHATEVER", "items": world["basket"][:1]}
    statuses = [
        (await client.post(f"{API}/promotions/validate", json=body, headers=buyer)).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


async def _redeem(app: FastAPI, promotion_id: str, user_id: str, order_id: str) -> bool:
    async with app.state.db.sessionmaker() as session:
        try:
            await uses.redeem(
                session,
                promotion_id=promotion_id,
                user_id=user_id,
                order_id=order_id,
                discount=100,
            )
            await session.commit()
        except uses.PromotionUnavailable:
            await session.rollback()
            return False
        return True


async def test_uses_never_exceed_the_maximum_under_concurrency(
    client: httpx.AsyncClient, promo_staff: dict[str, str], app: FastAPI, db: AsyncSession
) -> None:
    promo = await _create(client, promo_staff, code="FIVE", kind="fixed", value=100, max_uses=5)
    users = [(await create_user(db)).id for _ in range(12)]
    results = await asyncio.gather(
        *(_redeem(app, promo["id"], user, f"order{i:027d}") for i, user in enumerate(users))
    )
    assert results.count(True) == 5
    read = await client.get(f"{API}/promotions/{promo['id']}", headers=promo_staff)
    assert read.json()["uses_count"] == 5
    async with app.state.db.sessionmaker() as session:
        count = select(func.count()).select_from(PromotionRedemption)
        assert await session.scalar(count) == 5


async def test_per_customer_limit_and_idempotent_redemption(
    client: httpx.AsyncClient,
    promo_staff: dict[str, str],
    buyer: dict[str, str],
    app: FastAPI,
    world: Any,
) -> None:
    promo = await _create(
        client, promo_staff, code="ONCE", kind="fixed", value=100, max_uses_per_customer=1
    )
    user = "buyer000000000000000000000000001"
    results = await asyncio.gather(
        *(_redeem(app, promo["id"], user, f"order{i:027d}") for i in range(4))
    )
    assert results.count(True) == 1
    # The same paid order redeemed again (a repeated job) counts once.
    first_order = f"order{results.index(True):027d}"
    assert await _redeem(app, promo["id"], user, first_order)
    read = await client.get(f"{API}/promotions/{promo['id']}", headers=promo_staff)
    assert read.json()["uses_count"] == 1
    result = await _check(client, buyer, "ONCE", world["basket"])
    assert result["reason"] == "customer_limit_reached"


async def test_staff_page_through_promotions_newest_first(
    client: httpx.AsyncClient, promo_staff: dict[str, str]
) -> None:
    for code in ("FIRST", "SECOND", "THIRD"):
        await _create(client, promo_staff, code=code, kind="fixed", value=100)
    codes: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await client.get(f"{API}/promotions", params=params, headers=promo_staff)).json()
        codes += [p["code"] for p in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert codes == ["THIRD", "SECOND", "FIRST"]
    shops_cursor = (await client.get(f"{API}/shops", params={"limit": 1})).json()["next_cursor"]
    foreign = {"cursor": shops_cursor or "e30"}  # `{}`: a cursor of no list
    answer = await client.get(f"{API}/promotions", params=foreign, headers=promo_staff)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_cursor"
