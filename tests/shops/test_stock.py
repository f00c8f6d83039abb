"""Stock: who may change it, the ledger, low-stock alerts, and no overselling under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import Database
from loumo.jobs.models import Job
from loumo.shops import reservations
from loumo.shops.models import Stock, StockMovement
from tests.conftest import AuthHeaders
from tests.factories import make_category, make_product, make_shop, make_zone


async def _setup(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    zone = await make_zone(client, staff)
    shop_a = await make_shop(client, staff, zone["id"])
    shop_b = await make_shop(client, staff, zone["id"])
    category = await make_category(client, staff, "Stock")
    product = await make_product(client, staff, category["id"], name_fr="Riz", prices=[900, 1700])
    return {"a": shop_a["id"], "b": shop_b["id"], "variant": product["variants"][0]["id"]}


def _stock_url(shop_id: str, variant_id: str) -> str:
    return f"/api/v1/shops/{shop_id}/stock/{variant_id}"


async def test_managers_change_only_their_own_shops_stock(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    ids = await _setup(client, staff)
    url_a = _stock_url(ids["a"], ids["variant"])
    assert (await client.put(url_a, json={"quantity": 8}, headers=staff)).status_code == 200

    manager_b = await auth_headers("managerb000000000000000000000001", shops=[ids["b"]])
    for method, url, body in [
        ("PUT", url_a, {"quantity": 100}),
        ("POST", url_a + "/adjustments", {"delta": -8, "reason": "theft"}),
        ("GET", url_a, None),
        ("GET", f"/api/v1/shops/{ids['a']}/stock", None),
        ("GET", url_a + "/movements", None),
    ]:
        response = await client.request(method, url, json=body, headers=manager_b)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["code"] == "forbidden"
    customer = await auth_headers("customer000000000000000000000001")
    assert (await client.put(url_a, json={"quantity": 1}, headers=customer)).status_code == 403
    assert (await client.put(url_a, json={"quantity": 1})).status_code == 401
    # Who may not act is refused before the shop is looked up; staff learn it does not exist.
    for headers, status in ((manager_b, 403), (staff, 404)):
        unknown = await client.put(
            _stock_url("nope", ids["variant"]), json={"quantity": 1}, headers=headers
        )
        assert unknown.status_code == status
    assert await db.scalar(select(Stock.quantity).where(Stock.shop_id == ids["a"])) == 8

    url_b = _stock_url(ids["b"], ids["variant"])
    response = await client.put(url_b, json={"quantity": 5, "threshold": 1}, headers=manager_b)
    assert response.status_code == 200
    assert response.json() | {"updated_at": None} == {
        "shop_id": ids["b"],
        "variant_id": ids["variant"],
        "sku": response.json()["sku"],
        "variant_name": "V0",
        "quantity": 5,
        "reserved": 0,
        "available": 5,
        "threshold": 1,
        "restock_date": None,
        "low_stock": False,
        "updated_at": None,
    }
    adjusted = await client.post(
        url_b + "/adjustments", json={"delta": 3, "reason": "delivery"}, headers=manager_b
    )
    assert adjusted.status_code == 200 and adjusted.json()["quantity"] == 8
    listing = (await client.get(f"/api/v1/shops/{ids['b']}/stock", headers=manager_b)).json()
    assert [s["quantity"] for s in listing["items"]] == [8]
    moves = (await client.get(url_b + "/movements", headers=manager_b)).json()["items"]
    assert [(m["kind"], m["delta"], m["quantity_after"], m["reason"]) for m in moves] == [
        ("adjustment", 3, 8, "delivery"),
        ("set", 5, 5, "count"),
    ]
    assert moves[0]["actor_user_id"] == "managerb000000000000000000000001"


async def test_stock_never_goes_below_zero_or_reservations(
    client: httpx.AsyncClient, staff: dict[str, str], app: FastAPI, db: AsyncSession
) -> None:
    ids = await _setup(client, staff)
    url = _stock_url(ids["a"], ids["variant"])
    await client.put(url, json={"quantity": 4}, headers=staff)
    database: Database = app.state.db
    async with database.sessionmaker() as session:
        assert await reservations.reserve(session, ids["a"], ids["variant"], 3)
        await session.commit()

    for response in [
        await client.post(url + "/adjustments", json={"delta": -2, "reason": "x"}, headers=staff),
        await client.put(url, json={"quantity": 2}, headers=staff),
    ]:
        assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    for body in [{"delta": 0, "reason": "x"}, {"delta": 1}, {"delta": 1, "reason": ""}]:
        response = await client.post(url + "/adjustments", json=body, headers=staff)
        assert response.status_code == 422
    assert (await client.put(url, json={"quantity": -1}, headers=staff)).status_code == 422
    huge = await client.post(
        url + "/adjustments", json={"delta": 10**9, "reason": "typo"}, headers=staff
    )
    assert huge.status_code == 409
    missing = await client.post(
        _stock_url(ids["a"], "nope") + "/adjustments",
        json={"delta": 1, "reason": "x"},
        headers=staff,
    )
    assert missing.status_code == 404

    stock = (await client.get(url, headers=staff)).json()
    assert (stock["quantity"], stock["reserved"], stock["available"]) == (4, 3, 1)
    assert await db.scalar(select(func.count()).select_from(StockMovement)) == 1

    async with database.sessionmaker() as session:
        assert await reservations.commit_sale(session, ids["a"], ids["variant"], 2) == 2
        await reservations.release(session, ids["a"], ids["variant"], 1)
        await session.commit()
    stock = (await client.get(url, headers=staff)).json()
    assert (stock["quantity"], stock["reserved"], stock["available"]) == (2, 0, 2)


async def test_low_stock_defers_one_job_per_crossing(
    client: httpx.AsyncClient, staff: dict[str, str], db: AsyncSession
) -> None:
    ids = await _setup(client, staff)
    url = _stock_url(ids["a"], ids["variant"])
    await client.put(url, json={"quantity": 5, "threshold": 3}, headers=staff)

    async def adjust(delta: int) -> dict[str, Any]:
        response = await client.post(
            url + "/adjustments", json={"delta": delta, "reason": "t"}, headers=staff
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def alerts() -> list[dict[str, Any]]:
        rows = await db.scalars(select(Job.payload).where(Job.name == "stock.low"))
        return list(rows.all())

    assert (await adjust(-1))["low_stock"] is False
    assert await alerts() == []
    assert (await adjust(-1))["low_stock"] is True
    await adjust(-2)
    assert await alerts() == [{"shop_id": ids["a"], "variant_id": ids["variant"]}]
    await adjust(+1)
    assert len(await alerts()) == 1
    await adjust(+10)
    await adjust(-10)
    assert len(await alerts()) == 2


async def test_concurrent_adjustments_never_go_below_zero(
    client: httpx.AsyncClient, staff: dict[str, str], db: AsyncSession
) -> None:
    ids = await _setup(client, staff)
    url = _stock_url(ids["a"], ids["variant"])
    await client.put(url, json={"quantity": 6}, headers=staff)

    async def take_one() -> int:
        response = await client.post(
            url + "/adjustments", json={"delta": -1, "reason": "sold at the counter"}, headers=staff
        )
        return response.status_code

    statuses = await asyncio.gather(*(take_one() for _ in range(15)))
    assert sorted(statuses) == [200] * 6 + [409] * 9
    assert await db.scalar(select(Stock.quantity).where(Stock.shop_id == ids["a"])) == 0
    deltas = (await db.scalars(select(StockMovement.quantity_after))).all()
    assert sorted(deltas) == [0, 1, 2, 3, 4, 5, 6]


async def test_concurrent_reservations_never_oversell(
    client: httpx.AsyncClient, staff: dict[str, str], app: FastAPI, db: AsyncSession
) -> None:
    ids = await _setup(client, staff)
    await client.put(_stock_url(ids["b"], ids["variant"]), json={"quantity": 7}, headers=staff)
    database: Database = app.state.db

    async def reserve_one() -> bool:
        async with database.sessionmaker() as session:
            ok = await reservations.reserve(session, ids["b"], ids["variant"], 1)
            await session.commit()
            return ok

    results = await asyncio.gather(*(reserve_one() for _ in range(20)))
    assert results.count(True) == 7
    stock = await db.scalar(select(Stock).where(Stock.shop_id == ids["b"]))
    assert stock is not None and (stock.quantity, stock.reserved) == (7, 7)

    async def sell_one() -> int:
        async with database.sessionmaker() as session:
            left = await reservations.commit_sale(session, ids["b"], ids["variant"], 1)
            await session.commit()
            return left

    left = await asyncio.gather(*(sell_one() for _ in range(7)))
    assert sorted(left) == [0, 1, 2, 3, 4, 5, 6]
