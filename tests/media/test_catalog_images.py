"""Images of products, variants, categories and shops: routes, reference counts, URLs, uploads
limits and the collection job, on each storage backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Product, ProductImage
from loumo.core.db import utcnow
from loumo.jobs.outbox import defer
from loumo.jobs.registry import schedules
from loumo.jobs.runner import run_pending
from loumo.media.keys import RENDITION_SIZES, rendition_key
from loumo.media.models import MediaFile
from loumo.media.storage import LocalStorage, S3Storage, Storage
from loumo.media.tasks import COLLECT_JOB
from loumo.wiring import JOB_MODULES
from tests.conftest import AuthHeaders, make_settings
from tests.factories import (
    make_category,
    make_product,
    make_shop,
    make_zone,
    upload_image,
)
from tests.images import png_bytes
from tests.media.conftest import S3_CREDENTIALS, S3_REGION, make_s3_storage, stored_keys

UNKNOWN_KEY = "0" * 64


async def refs(db: AsyncSession, key: str) -> int | None:
    """The reference count of `key` as committed (None: no such image)."""
    await db.rollback()
    return await db.scalar(select(MediaFile.reference_count).where(MediaFile.key == key))


def _upload(color: tuple[int, int, int]) -> dict[str, Any]:
    return {"files": {"file": ("shot.jpg", png_bytes(color), "image/jpeg")}}


async def test_product_images_are_added_reordered_removed_and_counted(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: AsyncSession,
    app_storage: Storage,
    settings: Any,
) -> None:
    category = await make_category(client, staff, "Fruits")
    product = await make_product(client, staff, category["id"], name_fr="Mangue")
    url = f"/api/v1/products/{product['id']}/images"

    uploaded = await client.post(url, headers=staff, **_upload((10, 200, 10)))
    assert uploaded.status_code == 201, uploaded.text
    first = uploaded.json()["images"][0]
    assert first["url"] == app_storage.url(rendition_key(first["key"], 1200))
    assert set(first["thumbnails"]) == {str(size) for size in RENDITION_SIZES}
    assert first["thumbnails"]["160"] == app_storage.url(rendition_key(first["key"], 160))
    assert await app_storage.exists(rendition_key(first["key"], 480))

    second = await upload_image(client, staff, (200, 10, 10))
    by_key = await client.post(url, json={"key": second}, headers=staff)
    assert by_key.status_code == 201, by_key.text
    assert [i["key"] for i in by_key.json()["images"]] == [first["key"], second]
    assert await refs(db, first["key"]) == 1 and await refs(db, second) == 1

    # Bad input changes nothing.
    for body, status, code in [
        ({"key": second}, 409, "conflict"),
        ({"key": UNKNOWN_KEY}, 400, "unknown_image"),
        ({"key": "../etc/passwd"}, 422, "validation_error"),
        ({"key": second, "extra": 1}, 422, "validation_error"),
    ]:
        response = await client.post(url, json=body, headers=staff)
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
    text = await client.post(url, content=b"hello", headers={**staff, "content-type": "text/plain"})
    assert text.status_code == 415
    svg = await client.post(
        url, files={"file": ("x.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>")}, headers=staff
    )
    assert svg.status_code == 415
    unknown_product = await client.post(
        "/api/v1/products/nope/images", json={"key": second}, headers=staff
    )
    assert unknown_product.status_code == 404
    repeated = await client.put(url, json={"images": [second, second]}, headers=staff)
    assert repeated.status_code == 400 and repeated.json()["code"] == "duplicate_image"
    assert await refs(db, first["key"]) == 1 and await refs(db, second) == 1

    reordered = await client.put(url, json={"images": [second, first["key"]]}, headers=staff)
    assert reordered.status_code == 200, reordered.text
    assert [i["key"] for i in reordered.json()["images"]] == [second, first["key"]]
    rows = await db.execute(
        select(ProductImage.media_key, ProductImage.position).order_by(ProductImage.position)
    )
    assert rows.all() == [(second, 0), (first["key"], 1)]

    dropped = await client.put(url, json={"images": [second]}, headers=staff)
    assert dropped.status_code == 200
    assert await refs(db, first["key"]) == 0 and await refs(db, second) == 1
    assert (await client.delete(f"{url}/{second}", headers=staff)).status_code == 204
    assert (await client.delete(f"{url}/{second}", headers=staff)).status_code == 404
    assert (await client.delete(f"{url}/not-a-key", headers=staff)).status_code == 422
    assert await refs(db, second) == 0
    assert (await client.get(f"/api/v1/products/{product['id']}")).json()["images"] == []

    # PATCH replaces the list too, with the same counting.
    patched = await client.patch(
        f"/api/v1/products/{product['id']}", json={"images": [first["key"]]}, headers=staff
    )
    assert patched.status_code == 200 and await refs(db, first["key"]) == 1
    assert await db.scalar(select(Product.image_keys)) == [first["key"]]

    # Once nothing has used `second` for the grace period, the hourly job deletes its files.
    await db.execute(
        update(MediaFile)
        .values(updated_at=utcnow() - timedelta(days=2))
        .where(MediaFile.key == second)
    )
    await defer(db, COLLECT_JOB)
    await db.commit()
    job_settings = _settings_for(app_storage, settings)
    assert await run_pending(db, job_settings) == 1
    assert await refs(db, second) is None and await refs(db, first["key"]) == 1
    assert not any(k.startswith(second) for k in stored_keys(app_storage))
    assert any(k.startswith(first["key"]) for k in stored_keys(app_storage))


def _settings_for(storage: Storage, settings: Any) -> Any:
    """Process settings whose storage is `storage`, as `loumo worker` would be configured."""
    if isinstance(storage, LocalStorage):
        return make_settings(
            settings.database_url, settings.var_dir.parent, media_root=storage.root
        )
    assert isinstance(storage, S3Storage)
    return make_settings(
        settings.database_url,
        settings.var_dir.parent,
        storage_backend="s3",
        s3_bucket=storage.bucket,
        s3_endpoint_url=storage.client.meta.endpoint_url,
        s3_region=S3_REGION,
        s3_access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        s3_secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
    )


def test_the_collection_is_an_hourly_periodic_job() -> None:
    assert "loumo.media.tasks" in JOB_MODULES
    schedule = next(s for s in schedules() if s.name == COLLECT_JOB)
    assert schedule.every == 3600


async def test_only_product_writers_change_product_images(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    auth_headers: AuthHeaders,
    app_local_storage: Storage,
) -> None:
    category = await make_category(client, staff, "Légumes")
    product = await make_product(client, staff, category["id"], name_fr="Tomate")
    key = await upload_image(client, staff)
    customer = await auth_headers("customer000000000000000000000009")
    url = f"/api/v1/products/{product['id']}/images"
    assert (await client.post(url, json={"key": key}, headers=customer)).status_code == 403
    assert (await client.put(url, json={"images": [key]}, headers=customer)).status_code == 403
    assert (await client.post(url, json={"key": key})).status_code == 401
    assert (await client.delete(f"{url}/{key}", headers=customer)).status_code == 403


async def test_variant_category_and_shop_image_keys_are_counted(
    client: httpx.AsyncClient, staff: dict[str, str], db: AsyncSession, app_local_storage: Storage
) -> None:
    red = await upload_image(client, staff, (255, 0, 0))
    blue = await upload_image(client, staff, (0, 0, 255))

    category = await make_category(client, staff, "Viandes", image_key=red)
    assert category["image"]["thumbnails"]["480"].endswith(f"/media/{red}/480.webp")
    assert await refs(db, red) == 1
    moved = await client.patch(
        f"/api/v1/categories/{category['id']}", json={"image_key": blue}, headers=staff
    )
    assert moved.status_code == 200 and moved.json()["image"]["key"] == blue
    assert await refs(db, red) == 0 and await refs(db, blue) == 1
    tree = (await client.get("/api/v1/categories")).json()["items"]
    assert tree[0]["image"]["key"] == blue
    deleted = await client.delete(f"/api/v1/categories/{category['id']}", headers=staff)
    assert deleted.status_code == 204
    assert await refs(db, blue) == 0

    category = await make_category(client, staff, "Volaille")
    product = await make_product(
        client,
        staff,
        category["id"],
        name_fr="Poulet",
        variants=[{"name": "1 kg", "sku": "POULET-1", "price": 3000, "image_key": red}],
    )
    variant = product["variants"][0]
    assert variant["image"]["key"] == red and await refs(db, red) == 1
    changed = await client.patch(
        f"/api/v1/variants/{variant['id']}", json={"image_key": None}, headers=staff
    )
    assert changed.status_code == 200 and changed.json()["image"] is None
    assert await refs(db, red) == 0
    added = await client.post(
        f"/api/v1/products/{product['id']}/variants",
        json={"name": "2 kg", "sku": "POULET-2", "price": 5500, "image_key": blue},
        headers=staff,
    )
    assert added.status_code == 201 and added.json()["image"]["key"] == blue
    listed = (await client.get("/api/v1/products", params={"q": "poulet"})).json()["items"][0]
    assert [v["image"] and v["image"]["key"] for v in listed["variants"]] == [None, blue]

    zone = await make_zone(client, staff)
    shop = await make_shop(client, staff, zone["id"], image_key=red)
    assert shop["image"]["key"] == red and await refs(db, red) == 1
    patched = await client.patch(
        f"/api/v1/shops/{shop['id']}", json={"image_key": None}, headers=staff
    )
    assert patched.status_code == 200 and await refs(db, red) == 0

    # An unknown key is refused wherever it is given, and nothing changes.
    for method, url, body in [
        ("POST", "/api/v1/categories", {"name": "X", "image_key": UNKNOWN_KEY}),
        ("POST", "/api/v1/shops", {"name": "X", "zone_id": zone["id"], "image_key": UNKNOWN_KEY}),
        ("PATCH", f"/api/v1/variants/{variant['id']}", {"image_key": UNKNOWN_KEY}),
        ("PATCH", f"/api/v1/products/{product['id']}", {"images": [blue, UNKNOWN_KEY]}),
    ]:
        response = await client.request(method, url, json=body, headers=staff)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["code"] == "unknown_image"
    assert await refs(db, blue) == 1


async def test_shop_managers_set_their_own_shop_image_only(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    auth_headers: AuthHeaders,
    db: AsyncSession,
    app_local_storage: Storage,
) -> None:
    zone = await make_zone(client, staff)
    mine = await make_shop(client, staff, zone["id"])
    theirs = await make_shop(client, staff, zone["id"])
    manager = await auth_headers("manager0000000000000000000000001", shops=[mine["id"]])

    uploaded = await client.put(
        f"/api/v1/shops/{mine['id']}/image", headers=manager, **_upload((1, 2, 3))
    )
    assert uploaded.status_code == 200, uploaded.text
    key = uploaded.json()["image"]["key"]
    assert await refs(db, key) == 1
    assert (await client.get(f"/api/v1/shops/{mine['id']}")).json()["image"]["key"] == key

    other = await client.put(
        f"/api/v1/shops/{theirs['id']}/image", json={"key": key}, headers=manager
    )
    assert other.status_code == 403
    upload_elsewhere = await client.put(
        f"/api/v1/shops/{theirs['id']}/image", headers=manager, **_upload((4, 5, 6))
    )
    assert upload_elsewhere.status_code == 403
    await db.rollback()
    assert await db.scalar(select(MediaFile.key).where(MediaFile.key != key)) is None
    # A shop they do not manage, even one that does not exist: refused before it is looked up.
    missing = await client.put("/api/v1/shops/nope/image", json={"key": key}, headers=manager)
    assert missing.status_code == 403
    by_staff = await client.put(
        f"/api/v1/shops/{theirs['id']}/image", json={"key": key}, headers=staff
    )
    assert by_staff.status_code == 200 and await refs(db, key) == 2

    removed = await client.delete(f"/api/v1/shops/{mine['id']}/image", headers=manager)
    assert removed.status_code == 200 and removed.json()["image"] is None
    assert await refs(db, key) == 1


async def test_uploads_are_limited_per_user_per_minute(
    client: httpx.AsyncClient,
    app: FastAPI,
    staff: dict[str, str],
    auth_headers: AuthHeaders,
    app_local_storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.state.settings, "media_uploads_per_minute", 2)
    category = await make_category(client, staff, "Limites")
    product = await make_product(client, staff, category["id"], name_fr="Riz")
    images = f"/api/v1/products/{product['id']}/images"
    assert (await client.post(images, headers=staff, **_upload((9, 9, 9)))).status_code == 201
    await upload_image(client, staff, (8, 8, 8))

    refused = await client.post(images, headers=staff, **_upload((7, 7, 7)))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    direct = await client.post(
        "/api/v1/media/images", data={"purpose": "product"}, headers=staff, **_upload((6, 6, 6))
    )
    assert direct.status_code == 429
    # Attaching an uploaded image by key is not an upload; another user has their own budget.
    key = await upload_image(client, await auth_headers("uploader000000000000000000000001"))
    assert (await client.post(images, json={"key": key}, headers=staff)).status_code == 201


async def test_s3_urls_use_the_public_base_url(
    client: httpx.AsyncClient,
    app: FastAPI,
    staff: dict[str, str],
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = make_s3_storage(s3_endpoint, public_base_url="https://cdn.example.com/m")
    monkeypatch.setattr(app.state, "storage", storage, raising=False)
    key = await upload_image(client, staff)
    category = await make_category(client, staff, "Cdn")
    await make_product(client, staff, category["id"], name_fr="Lait", images=[key])
    item = (await client.get("/api/v1/products", params={"q": "lait"})).json()["items"][0]
    assert item["images"][0]["url"] == f"https://cdn.example.com/m/{key}/1200.webp"
    assert item["images"][0]["thumbnails"]["160"] == f"https://cdn.example.com/m/{key}/160.webp"
    assert f"{key}/160.webp" in stored_keys(storage)


async def test_concurrent_image_changes_keep_counts_exact(
    client: httpx.AsyncClient, staff: dict[str, str], db: AsyncSession, app_local_storage: Storage
) -> None:
    category = await make_category(client, staff, "Concurrence")
    product = await make_product(client, staff, category["id"], name_fr="Sel")
    url = f"/api/v1/products/{product['id']}/images"
    keys = [await upload_image(client, staff, (i * 40, 90, 90)) for i in range(5)]

    added = await asyncio.gather(
        *(client.post(url, json={"key": key}, headers=staff) for key in keys)
    )
    assert [r.status_code for r in added] == [201] * 5
    final = (await client.get(f"/api/v1/products/{product['id']}")).json()["images"]
    assert sorted(i["key"] for i in final) == sorted(keys)
    assert [await refs(db, key) for key in keys] == [1] * 5

    choices = [keys[:2], keys[1:4], [keys[4]], keys[::2], []]
    replaced = await asyncio.gather(
        *(client.put(url, json={"images": choice}, headers=staff) for choice in choices)
    )
    assert [r.status_code for r in replaced] == [200] * 5
    final_keys = [
        i["key"] for i in (await client.get(url.removesuffix("/images"))).json()["images"]
    ]
    assert final_keys in choices
    assert [await refs(db, key) for key in keys] == [int(key in final_keys) for key in keys]
