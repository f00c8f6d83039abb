"""Both storage backends keep the same contract: local disk, and a real S3 API (moto server)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from loumo.core.settings import ConfigurationError
from loumo.media.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    StoredFileNotFound,
    build_storage,
)
from tests.conftest import make_settings
from tests.media.conftest import make_s3_storage, stored_keys

HASH = hashlib.sha256(b"media").hexdigest()
KEY = f"{HASH}/480.webp"
OTHER = f"{HASH}/original.png"


async def test_put_get_exists_delete(storage: Storage) -> None:
    assert not await storage.exists(KEY)

    await storage.put(KEY, b"first", "image/webp")
    await storage.put(OTHER, b"other", "image/png")
    assert await storage.exists(KEY)
    assert await storage.get(KEY) == b"first"

    await storage.put(KEY, b"second", "image/webp")
    assert await storage.get(KEY) == b"second"
    assert stored_keys(storage) == {KEY, OTHER}

    await storage.delete(KEY)
    assert not await storage.exists(KEY)
    assert stored_keys(storage) == {OTHER}
    with pytest.raises(StoredFileNotFound):
        await storage.get(KEY)
    await storage.delete(KEY)  # deleting twice is fine


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", f"{HASH}/../../x.webp", f"/{KEY}", f"{HASH}/999.webp", "a/b", f"{HASH}"],
)
async def test_keys_outside_the_scheme_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="invalid media key"):
        await storage.put(key, b"x", "image/webp")
    with pytest.raises(ValueError, match="invalid media key"):
        storage.url(key)
    assert stored_keys(storage) == set()


async def test_local_urls_point_at_the_media_route(local_storage: LocalStorage) -> None:
    assert local_storage.url(KEY) == f"http://testserver/media/{KEY}"


async def test_local_writes_leave_no_temporary_files(local_storage: LocalStorage) -> None:
    await local_storage.put(KEY, b"x" * 100_000, "image/webp")
    assert [p.name for p in local_storage.path(KEY).parent.iterdir()] == ["480.webp"]


async def test_s3_presigned_urls_fetch_the_object(s3_endpoint: str) -> None:
    storage = make_s3_storage(s3_endpoint)
    await storage.put(KEY, b"pixels", "image/webp")

    url = storage.url(KEY)

    assert "X-Amz-Signature=" in url
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"pixels"
    assert response.headers["content-type"] == "image/webp"
    assert "immutable" in response.headers["cache-control"]


def test_s3_public_base_url(s3_endpoint: str) -> None:
    storage = make_s3_storage(s3_endpoint, public_base_url="https://cdn.example.com/m/")
    assert storage.url(KEY) == f"https://cdn.example.com/m/{KEY}"


def test_the_backend_is_chosen_by_settings(database_url: str, tmp_path: Path) -> None:
    root = tmp_path
    local = build_storage(make_settings(database_url, root, media_root=root / "m"))
    assert isinstance(local, LocalStorage)
    assert local.root == (root / "m").resolve()

    s3 = build_storage(
        make_settings(
            database_url,
            root,
            storage_backend="s3",
            s3_bucket="loumo",
            s3_endpoint_url="http://127.0.0.1:9",
            s3_access_key_id="a",
            s3_secret_access_key="b",
        )
    )
    assert isinstance(s3, S3Storage)
    assert s3.bucket == "loumo"

    with pytest.raises(ConfigurationError, match="S3_BUCKET"):
        build_storage(make_settings(database_url, root, storage_backend="s3"))
