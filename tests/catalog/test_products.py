"""Products and variants: the staff-to-customer story, search, filters, sorting and paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Product, ProductImage, Variant
from loumo.catalog.schemas import ProductRead
from loumo.core.pagination import Page, encode_cursor
from tests.catalog.test_categories import _selects
from tests.conftest import AuthHeaders
from tests.factories import (
    count_statements,
    make_category,
    make_product,
    make_shop,
    make_zone,
    upload_image,
)


async def _put_stock(
    client: httpx.AsyncClient, headers: dict[str, str], shop_id: str, variant_id: str, qty: int
) -> None:
    response = await client.put(
        f"/api/v1/shops/{shop_id}/stock/{variant_id}",
        json={"quantity": qty, "threshold": 2},
        headers=headers,
    )
    assert response.status_code == 200, response.text


async def _names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/v1/products", params=params)
    assert response.status_code == 200, response.text
    return [p["name_fr"] for p in response.json()["items"]]


async def test_staff_build_a_product_that_customers_find_and_see_available(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    zone = await make_zone(client, staff)
    shop_a = await make_shop(client, staff, zone["id"], name="Marché Central")
    shop_b = await make_shop(client, staff, zone["id"], name="Boutique Bastos")
    dairy = await make_category(client, staff, "Produits laitiers")
    cream = await make_category(client, staff, "Crèmes", dairy["id"])
    other = await make_category(client, staff, "Boissons")
    front = await upload_image(client, staff, (250, 250, 240))
    back = await upload_image(client, staff, (240, 230, 200))

    response = await client.post(
        "/api/v1/products",
        headers=staff,
        json={
            "reference": "CR-001",
            "name_fr": "Crème fraîche épaisse",
            "name_en": "Thick cream",
            "description_fr": "Crème de Normandie",
            "category_id": cream["id"],
            "images": [front, back],
            "variants": [
                {"name": "20 cl", "sku": "CR-001-20", "price": 1200, "weight": 200, "unit": "ml"},
                {"name": "50 cl", "sku": "CR-001-50", "price": 2500, "weight": 500, "unit": "ml"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["slug"] == "creme-fraiche-epaisse"
    assert product["price"] == 1200 and product["currency"] == "XAF"
    assert [i["key"] for i in product["images"]] == [front, back]
    assert product["images"][0]["url"].endswith(f"/media/{front}/1200.webp")
    assert product["images"][0]["thumbnails"]["160"].endswith(f"/media/{front}/160.webp")
    small, large = product["variants"]
    await _put_stock(client, staff, shop_a["id"], small["id"], 10)
    await _put_stock(client, staff, shop_b["id"], small["id"], 3)
    await _put_stock(client, staff, shop_a["id"], large["id"], 0)
    await make_product(client, staff, other["id"], name_fr="Jus de mangue", prices=[800])

    assert await _names(client, q="crème") == ["Crème fraîche épaisse"]
    assert await _names(client, q="CREME fraiche") == ["Crème fraîche épaisse"]
    assert await _names(client, q="thick") == ["Crème fraîche épaisse"]
    assert await _names(client, q="cr-001-50") == ["Crème fraîche épaisse"]
    assert await _names(client, q="normandie") == ["Crème fraîche épaisse"]
    assert await _names(client, category_id=dairy["id"]) == ["Crème fraîche épaisse"]
    assert await _names(client, category_id=other["id"]) == ["Jus de mangue"]
    assert await _names(client, min_price=2000, max_price=3000) == ["Crème fraîche épaisse"]
    assert await _names(client, max_price=1000) == ["Jus de mangue"]
    assert await _names(client, shop_id=shop_b["id"]) == ["Crème fraîche épaisse"]
    assert await _names(client, in_stock="true") == ["Crème fraîche épaisse"]

    page = (await client.get("/api/v1/products", params={"q": "creme"})).json()
    Page[ProductRead].model_validate(page)  # the documented shape is the served shape
    found = page["items"][0]
    availability = {v["sku"]: v["availability"] for v in found["variants"]}
    assert sorted(availability["CR-001-20"], key=lambda a: a["available"]) == [
        {"shop_id": shop_b["id"], "available": 3},
        {"shop_id": shop_a["id"], "available": 10},
    ]
    assert availability["CR-001-50"] == [{"shop_id": shop_a["id"], "available": 0}]
    assert found["in_stock"] is True

    by_slug = await client.get("/api/v1/products/creme-fraiche-epaisse")
    assert by_slug.status_code == 200 and by_slug.json()["id"] == product["id"]
    variants = (await client.get(f"/api/v1/products/{product['id']}/variants")).json()
    assert [v["sku"] for v in variants["items"]] == ["CR-001-20", "CR-001-50"]
    assert variants["next_cursor"] is None


async def test_accents_fold_both_ways(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    category = await make_category(client, staff, "Desserts")
    await make_product(client, staff, category["id"], name_fr="Creme brulee")
    await make_product(client, staff, category["id"], name_fr="Œufs à la neige")
    assert await _names(client, q="crème brûlée") == ["Creme brulee"]
    assert await _names(client, q="oeufs") == ["Œufs à la neige"]
    assert await _names(client, q="100%_") == []


async def test_relevance_puts_name_prefix_matches_first(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    category = await make_category(client, staff, "Épicerie")
    await make_product(client, staff, category["id"], name_fr="Sucre en poudre")
    await make_product(
        client, staff, category["id"], name_fr="Café", description_fr="Sans sucre ajouté"
    )
    await make_product(client, staff, category["id"], name_fr="Sucre roux")
    names = await _names(client, q="sucre", sort="relevance")
    assert names[2] == "Café" and set(names[:2]) == {"Sucre en poudre", "Sucre roux"}


@pytest.mark.parametrize("sort", ["price", "-price", "name", "newest", "relevance"])
async def test_pages_cover_everything_once_in_order_even_with_ties(
    client: httpx.AsyncClient, staff: dict[str, str], sort: str
) -> None:
    category = await make_category(client, staff, "Tout")
    prices = [500, 300, 500, 500, 100, 300, 900]
    for i, price in enumerate(prices):
        await make_product(
            client, staff, category["id"], name_fr=f"Article {'ABAB'[i % 4]}", prices=[price]
        )
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": 2, "q": "article"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/products", params=params)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len({p["id"] for p in seen}) == len(prices) == len(seen)
    if sort == "price":
        assert [p["price"] for p in seen] == sorted(prices)
    if sort == "-price":
        assert [p["price"] for p in seen] == sorted(prices, reverse=True)
    if sort == "name":
        assert [p["name_fr"] for p in seen] == sorted(p["name_fr"] for p in seen)
    if sort in ("newest", "relevance"):
        assert [p["id"] for p in seen] == sorted((p["id"] for p in seen), reverse=True)


async def test_listing_runs_a_fixed_number_of_queries(
    client: httpx.AsyncClient, staff: dict[str, str], app: FastAPI
) -> None:
    zone = await make_zone(client, staff)
    shops = [await make_shop(client, staff, zone["id"]) for _ in range(2)]
    category = await make_category(client, staff, "Lot")
    images = [await upload_image(client, staff, (i, i, i)) for i in range(2)]

    async def listing_selects(count: int) -> int:
        for _ in range(count):
            product = await make_product(
                client, staff, category["id"], name_fr="P", prices=[1, 2], images=images
            )
            for shop in shops:
                for variant in product["variants"]:
                    await _put_stock(client, staff, shop["id"], variant["id"], 5)
        with count_statements(app) as statements:
            response = await client.get(
                "/api/v1/products", params={"limit": 50, "category_id": category["id"]}
            )
        assert response.status_code == 200
        assert all(len(p["images"]) == 2 for p in response.json()["items"])
        return len(_selects(statements))

    few = await listing_selects(2)
    many = await listing_selects(10)
    assert 2 <= few == many <= 6


async def test_inactive_products_and_variants_are_hidden_from_customers(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    category = await make_category(client, staff, "Cachés")
    product = await make_product(client, staff, category["id"], name_fr="Ancien", prices=[10, 20])
    cheap = product["variants"][0]["id"]
    assert (await client.delete(f"/api/v1/variants/{cheap}", headers=staff)).status_code == 204
    assert (await client.get(f"/api/v1/variants/{cheap}")).status_code == 404
    assert (await client.get(f"/api/v1/products/{product['id']}")).json()["price"] == 20
    assert (
        await client.delete(f"/api/v1/products/{product['id']}", headers=staff)
    ).status_code == 204
    assert (await client.get(f"/api/v1/products/{product['id']}")).status_code == 404
    assert await _names(client) == []
    staff_view = await client.get(f"/api/v1/products/{product['id']}", headers=staff)
    assert staff_view.status_code == 200 and staff_view.json()["is_active"] is False


async def test_variant_updates_keep_price_and_search_in_step(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    category = await make_category(client, staff, "Var")
    product = await make_product(client, staff, category["id"], name_fr="Huile", prices=[3000])
    variant = product["variants"][0]
    response = await client.patch(
        f"/api/v1/variants/{variant['id']}", json={"price": 2500, "sku": "HUILE-1L"}, headers=staff
    )
    assert response.status_code == 200 and response.json()["price"] == 2500
    added = await client.post(
        f"/api/v1/products/{product['id']}/variants",
        json={"name": "5 L", "sku": "HUILE-5L", "price": 11000, "weight": 5, "unit": "l"},
        headers=staff,
    )
    assert added.status_code == 201
    assert await _names(client, q="huile-1l") == ["Huile"]
    assert await _names(client, min_price=10000) == ["Huile"]
    assert (await client.get(f"/api/v1/products/{product['id']}")).json()["price"] == 2500


async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    category = await make_category(client, staff, "Base")
    existing = await make_product(client, staff, category["id"], name_fr="Existant")

    def body(**overrides: Any) -> dict[str, Any]:
        return {
            "reference": "NEW-1",
            "name_fr": "Nouveau",
            "name_en": "New",
            "category_id": category["id"],
            "variants": [{"name": "1", "sku": "NEW-1-A", "price": 100}],
            **overrides,
        }

    sku_taken = existing["variants"][0]["sku"]
    cases = [
        (body(variants=[{"name": "1", "sku": "X-1", "price": -5}]), 422, "validation_error"),
        (body(variants=[{"name": "1", "sku": "X-1", "price": 5, "unit": "box"}]), 422, None),
        (body(category_id="missing"), 400, "unknown_category"),
        (body(variants=[{"name": "1", "sku": sku_taken, "price": 5}]), 409, "conflict"),
        (
            body(
                variants=[
                    {"name": "1", "sku": "D", "price": 5},
                    {"name": "2", "sku": "D", "price": 6},
                ]
            ),
            409,
            "conflict",
        ),
        (body(slug=existing["slug"]), 409, "conflict"),
        (body(reference=existing["reference"]), 409, "conflict"),
        (body(variants=[{"name": "1", "sku": "C-1", "price": 5, "currency": "EUR"}]), 400, None),
        (body(unknown_field=1), 422, "validation_error"),
        (body(variants=[{"name": "1", "sku": "BIG", "price": 10**12}]), 422, None),
    ]
    for payload, status, code in cases:
        response = await client.post("/api/v1/products", json=payload, headers=staff)
        assert response.status_code == status, (payload, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if code:
            assert response.json()["code"] == code
    customer = await auth_headers("customer000000000000000000000001")
    assert (await client.post("/api/v1/products", json=body(), headers=customer)).status_code == 403

    negative = await client.patch(
        f"/api/v1/variants/{existing['variants'][0]['id']}", json={"price": -1}, headers=staff
    )
    assert negative.status_code == 422
    assert await db.scalar(select(func.count()).select_from(Product)) == 1
    assert await db.scalar(select(func.count()).select_from(Variant)) == 1
    assert await db.scalar(select(func.count()).select_from(ProductImage)) == 0
    assert await db.scalar(select(Variant.price)) == existing["variants"][0]["price"]

    bad_queries: list[tuple[dict[str, str | int], int]] = [
        ({"limit": 1000}, 422),
        ({"limit": 0}, 422),
        ({"cursor": "garbage!"}, 400),
        ({"cursor": encode_cursor({"s": "price", "v": "x", "id": "1"}), "sort": "price"}, 400),
        ({"cursor": encode_cursor({"s": "name", "v": "x", "id": "1"}), "sort": "price"}, 400),
        ({"min_price": 10, "max_price": 5}, 400),
        ({"min_price": -1}, 422),
        ({"max_price": 10**15}, 422),
        ({"cursor": encode_cursor({"s": "price", "v": 2**62, "id": "1"}), "sort": "price"}, 400),
        ({"cursor": encode_cursor({"s": "newest", "v": "x", "id": "9" * 100})}, 400),
        ({"sort": "cheapest"}, 422),
        ({"category_id": "missing"}, 404),
    ]
    for params, status in bad_queries:
        response = await client.get("/api/v1/products", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
