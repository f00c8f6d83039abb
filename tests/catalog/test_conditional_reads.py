"""Catalog, shop and zone reads carry ETag and Cache-Control, and answer 304 when unchanged."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.factories import make_category, make_product, make_shop, make_zone


async def _revalidate(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """GET `url`, then GET it again with the ETag (expecting 304); returns the first answer."""
    first = await client.get(url, headers=headers, params=params)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    again = await client.get(url, headers={**(headers or {}), "If-None-Match": etag}, params=params)
    assert again.status_code == 304, (url, again.text)
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == first.headers["cache-control"]
    return first


async def test_a_repeated_product_read_gets_304_until_the_product_changes(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    category = await make_category(client, staff, "Épices")
    product = await make_product(client, staff, category["id"], name_fr="Poivre")
    url = f"/api/v1/products/{product['id']}"
    first = await _revalidate(client, url)
    assert first.headers["cache-control"] == "public, max-age=60"
    assert "Authorization" in first.headers["vary"]
    assert first.json()["name_fr"] == "Poivre"

    changed = await client.patch(url, json={"name_fr": "Poivre noir"}, headers=staff)
    assert changed.status_code == 200
    after = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and after.json()["name_fr"] == "Poivre noir"
    assert after.headers["etag"] != first.headers["etag"]

    listing = await _revalidate(client, "/api/v1/products", params={"q": "poivre"})
    assert [p["name_fr"] for p in listing.json()["items"]] == ["Poivre noir"]
    await client.patch(
        f"/api/v1/variants/{product['variants'][0]['id']}", json={"price": 1}, headers=staff
    )
    stale = await client.get(
        "/api/v1/products",
        params={"q": "poivre"},
        headers={"If-None-Match": listing.headers["etag"]},
    )
    assert stale.status_code == 200 and stale.json()["items"][0]["price"] == 1


async def test_a_repeated_category_read_gets_304_until_a_category_changes(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    category = await make_category(client, staff, "Boulangerie")
    tree = await _revalidate(client, "/api/v1/categories")
    one = await _revalidate(client, f"/api/v1/categories/{category['id']}")
    assert one.json()["name"] == "Boulangerie"

    await client.patch(
        f"/api/v1/categories/{category['id']}", json={"name": "Pains"}, headers=staff
    )
    for url, previous in [
        ("/api/v1/categories", tree),
        (f"/api/v1/categories/{category['id']}", one),
    ]:
        response = await client.get(url, headers={"If-None-Match": previous.headers["etag"]})
        assert response.status_code == 200 and "Pains" in response.text


async def test_callers_who_may_see_more_get_private_answers(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    category = await make_category(client, staff, "Cachée", is_active=False)
    public = await client.get("/api/v1/categories")
    staff_view = await _revalidate(client, "/api/v1/categories", headers=staff)
    assert staff_view.headers["cache-control"] == "private, max-age=0"
    assert [c["id"] for c in staff_view.json()["items"]] == [category["id"]]
    assert public.json()["items"] == []
    # The anonymous ETag never validates the staff answer, nor the reverse.
    crossed = await client.get(
        "/api/v1/categories", headers={**staff, "If-None-Match": public.headers["etag"]}
    )
    assert crossed.status_code == 200


async def test_shop_and_zone_reads_are_conditional(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    zone = await make_zone(client, staff)
    shop = await make_shop(client, staff, zone["id"])
    for url in ("/api/v1/zones", "/api/v1/shops", f"/api/v1/shops/{shop['id']}"):
        response = await _revalidate(client, url)
        assert response.headers["cache-control"] == "public, max-age=60"
    shops = (await client.get("/api/v1/shops")).json()
    assert shops["items"][0]["id"] == shop["id"] and shops["next_cursor"] is None
    zones = (await client.get("/api/v1/zones")).json()
    assert zones["items"][0]["id"] == zone["id"] and zones["next_cursor"] is None


def test_openapi_still_documents_the_cached_reads(app: FastAPI) -> None:
    schema = app.openapi()
    paths = schema["paths"]
    for path, model in [
        ("/api/v1/products", "Page_ProductListed_"),
        ("/api/v1/products/{product_id}", "ProductRead"),
        ("/api/v1/categories", "CategoryTree"),
        ("/api/v1/categories/{category_id}", "CategoryRead"),
        ("/api/v1/shops", "Page_ShopRead_"),
        ("/api/v1/shops/{shop_id}", "ShopRead"),
        ("/api/v1/zones", "Page_ZoneRead_"),
    ]:
        operation = paths[path]["get"]
        content = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert content.get("$ref", "").endswith("/" + model), (path, content)
        assert "304" in operation["responses"]
    images = paths["/api/v1/products/{product_id}/images"]["post"]["requestBody"]["content"]
    assert set(images) == {"multipart/form-data", "application/json"}
