"""/me/favorites: idempotent add and remove, newest first, one user's list never another's."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Favorite
from loumo.catalog.models import Product
from tests.conftest import AuthHeaders
from tests.factories import make_category, make_product

API = "/api/v1"
ALICE = "favalice000000000000000000000001"
BOB = "favbob00000000000000000000000001"


async def _products(client: httpx.AsyncClient, staff: dict[str, str], n: int) -> list[Any]:
    category = await make_category(client, staff, "Favorites")
    return [
        await make_product(
            client,
            staff,
            category["id"],
            name_fr=f"Mangue {i}",
            name_en=f"Mango {i}",
            prices=[1500 + i, 900 + i],
        )
        for i in range(n)
    ]


K1, K2 = "1" * 64, "2" * 64


async def test_put_is_idempotent_and_the_list_shows_what_a_client_needs(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    (product,) = await _products(client, staff, 1)
    await db.execute(update(Product).where(Product.id == product["id"]).values(image_keys=[K1, K2]))
    await db.commit()
    alice = await auth_headers(ALICE)
    url = f"{API}/me/favorites/{product['id']}"

    first = await client.put(url, headers=alice)
    assert first.status_code == 200, first.text
    again = await client.put(url, headers=alice)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert first.json() | {"favorited_at": None} == {
        "product_id": product["id"],
        "slug": product["slug"],
        "name_fr": "Mangue 0",
        "name_en": "Mango 0",
        "price": 900,
        "currency": "XAF",
        "image": first.json()["image"],
        "favorited_at": None,
    }
    image = first.json()["image"]
    assert image["key"] == K1
    assert image["url"].endswith(f"/media/{K1}/1200.webp")
    assert set(image["thumbnails"]) == {"160", "480", "1200"}
    rows = await db.scalars(select(Favorite).where(Favorite.user_id == ALICE))
    assert len(rows.all()) == 1

    listed = await client.get(f"{API}/me/favorites", headers=alice)
    assert listed.status_code == 200
    assert listed.json() == {"items": [first.json()], "next_cursor": None}

    assert (await client.delete(url, headers=alice)).status_code == 204
    assert (await client.delete(url, headers=alice)).status_code == 204
    assert (await client.get(f"{API}/me/favorites", headers=alice)).json()["items"] == []


async def test_newest_first_with_a_cursor(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders
) -> None:
    products = await _products(client, staff, 3)
    alice = await auth_headers(ALICE)
    for product in products:
        response = await client.put(f"{API}/me/favorites/{product['id']}", headers=alice)
        assert response.status_code == 200
    # A repeated PUT keeps the original time: the oldest stays last.
    await client.put(f"{API}/me/favorites/{products[0]['id']}", headers=alice)

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/me/favorites", headers=alice, params=params)).json()
        seen += [item["product_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p["id"] for p in reversed(products)]

    bad = await client.get(f"{API}/me/favorites", headers=alice, params={"cursor": "%%%"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


async def test_unknown_or_inactive_products_are_404_and_nothing_is_stored(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    (product,) = await _products(client, staff, 1)
    alice = await auth_headers(ALICE)
    for method in ("PUT", "DELETE"):
        missing = await client.request(method, f"{API}/me/favorites/nope", headers=alice)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    bad_id = await client.put(f"{API}/me/favorites/a%20b", headers=alice)
    assert bad_id.status_code == 422

    url = f"{API}/me/favorites/{product['id']}"
    assert (await client.put(url, headers=alice)).status_code == 200
    await db.execute(update(Product).where(Product.id == product["id"]).values(is_active=False))
    await db.commit()
    # A withdrawn product leaves the list and cannot be added, but can still be removed.
    assert (await client.get(f"{API}/me/favorites", headers=alice)).json()["items"] == []
    assert (await client.put(url, headers=alice)).status_code == 404
    assert (await client.delete(url, headers=alice)).status_code == 204
    assert (await client.delete(url, headers=alice)).status_code == 404
    assert (await db.scalars(select(Favorite))).all() == []
    assert (await client.get(f"{API}/me/favorites")).status_code == 401


async def test_other_users_never_see_or_change_my_favorites(
    client: httpx.AsyncClient, staff: dict[str, str], auth_headers: AuthHeaders
) -> None:
    mine, theirs = await _products(client, staff, 2)
    alice, bob = await auth_headers(ALICE), await auth_headers(BOB)
    assert (await client.put(f"{API}/me/favorites/{mine['id']}", headers=alice)).status_code == 200
    put = await client.put(f"{API}/me/favorites/{theirs['id']}", headers=bob)
    assert put.status_code == 200

    # Bob removing "his" favorite of Alice's product touches only his own (empty) list.
    removed = await client.delete(f"{API}/me/favorites/{mine['id']}", headers=bob)
    assert removed.status_code == 204

    def ids(response: httpx.Response) -> list[str]:
        return [item["product_id"] for item in response.json()["items"]]

    assert ids(await client.get(f"{API}/me/favorites", headers=alice)) == [mine["id"]]
    assert ids(await client.get(f"{API}/me/favorites", headers=bob)) == [theirs["id"]]
