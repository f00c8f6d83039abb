"""The demo and scale seeds: realistic, searchable, idempotent."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Category, Product, Variant
from loumo.core.db import Database
from loumo.seed.catalog import seed_catalog, seed_scale
from loumo.shops.models import Shop, Stock, StockMovement
from loumo.zones.models import Zone

TABLES = (Zone, Category, Shop, Product, Variant, Stock, StockMovement)


async def _counts(session: AsyncSession) -> dict[str, int]:
    return {
        model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
        for model in TABLES
    }


async def test_demo_seed_is_realistic_and_idempotent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    database: Database = app.state.db
    async with database.sessionmaker() as session:
        assert await seed_catalog(session) == 300
        await session.commit()
        first = await _counts(session)
        stock_before = (await session.execute(select(Stock.variant_id, Stock.quantity))).all()
    assert first["zones"] == 3 and first["shops"] == 5 and first["products"] == 300
    assert 18 <= first["categories"] <= 22
    assert 300 <= first["variants"] <= 900
    assert first["stocks"] == first["stock_movements"] > 0

    async with database.sessionmaker() as session:
        assert await seed_catalog(session) == 0
        await session.commit()
        assert await _counts(session) == first
        stock_after = (await session.execute(select(Stock.variant_id, Stock.quantity))).all()
    assert sorted(stock_after) == sorted(stock_before)

    found = (await client.get("/api/v1/products", params={"q": "creme fraiche"})).json()
    assert found["items"] and all("Crème fraîche" in p["name_fr"] for p in found["items"])
    english = (await client.get("/api/v1/products", params={"q": "organic mango"})).json()
    assert [p["name_en"] for p in english["items"]] == ["Organic Mangoes"]
    page = (await client.get("/api/v1/products", params={"limit": 100})).json()
    assert len(page["items"]) == 100 and page["next_cursor"]


async def test_scale_seed_adds_products_with_three_variants_in_five_shops(app: FastAPI) -> None:
    database: Database = app.state.db
    async with database.sessionmaker() as session:
        assert await seed_scale(session, 40) == 40
        assert await seed_scale(session, 10) == 10
        await session.commit()
        counts = await _counts(session)
    assert counts["products"] == 50
    assert counts["variants"] == 150
    assert counts["stocks"] == 750
