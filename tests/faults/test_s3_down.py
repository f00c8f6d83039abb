"""The S3 store down under media: uploads fail with a clean 503 problem document and leave
nothing behind (no row, no unattached bytes counted against the uploader, no object once the
store is back); reads that show media keep answering; uploads work again when it returns."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.media.models import MediaFile
from loumo.media.storage import S3Storage, Storage, StorageUnavailable
from tests import images
from tests.conftest import AuthHeaders
from tests.factories import make_category
from tests.media.conftest import make_s3_storage, stored_keys
from tests.private_services import MotoS3, moto_s3

pytestmark = pytest.mark.faults

URL = "/api/v1/media/images"


@pytest.fixture
def s3() -> Iterator[MotoS3]:
    with moto_s3() as server:
        yield server


@pytest.fixture
def s3_storage(app: FastAPI, s3: MotoS3, monkeypatch: pytest.MonkeyPatch) -> S3Storage:
    storage = make_s3_storage(s3.endpoint)
    monkeypatch.setattr(app.state, "storage", storage, raising=False)
    return storage


async def _upload(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes
) -> httpx.Response:
    return await client.post(
        URL,
        headers=headers,
        files={"file": ("photo.png", data, "image/png")},
        data={"purpose": "category"},
    )


async def _rows(db: AsyncSession) -> int:
    return (await db.execute(select(func.count()).select_from(MediaFile))).scalar_one()


async def test_uploads_fail_cleanly_while_s3_is_down_and_work_again_after(
    client: httpx.AsyncClient,
    auth_headers: AuthHeaders,
    staff: dict[str, str],
    s3: MotoS3,
    s3_storage: S3Storage,
    db: AsyncSession,
) -> None:
    uploader = await auth_headers("u-s3")
    first = await _upload(client, uploader, images.image_bytes("PNG", (400, 300)))
    assert first.status_code == 201, first.text
    category = await make_category(client, staff, "Fruits", image_key=first.json()["key"])
    before = stored_keys(s3_storage)

    s3.stop()

    fresh = images.image_bytes("PNG", (500, 200))
    answer = await _upload(client, uploader, fresh)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "storage_unavailable"
    assert int(answer.headers["retry-after"]) > 0
    assert str(s3.port) not in answer.text and "botocore" not in answer.text
    assert await _rows(db) == 1
    # Reads that show media only compute URLs: they keep answering.
    read = await client.get(f"/api/v1/categories/{category['id']}")
    assert read.status_code == 200, read.text
    assert first.json()["key"] in read.text

    s3.start()

    assert stored_keys(s3_storage) == before
    again = await _upload(client, uploader, fresh)
    assert again.status_code == 201, again.text
    assert await _rows(db) == 2
    new_keys = {r["key"] for r in again.json()["renditions"]}
    assert stored_keys(s3_storage) == before | new_keys


class RefusesOneRendition(Storage):
    """A real S3 store that fails the largest rendition's write, as a store failing halfway
    through an upload would (the other files of the upload do reach it)."""

    def __init__(self, inner: S3Storage) -> None:
        self.inner = inner

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        if key.endswith("/1200.webp"):
            raise StorageUnavailable()
        await self.inner.put(key, data, content_type)

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    def url(self, key: str) -> str:
        return self.inner.url(key)


async def test_an_upload_the_store_fails_halfway_keeps_no_file(
    app: FastAPI,
    client: httpx.AsyncClient,
    auth_headers: AuthHeaders,
    s3_storage: S3Storage,
    db: AsyncSession,
) -> None:
    app.state.storage = RefusesOneRendition(s3_storage)  # (`s3_storage` puts the old one back)
    answer = await _upload(client, await auth_headers("u-s3"), images.image_bytes("PNG"))
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "storage_unavailable"
    assert await _rows(db) == 0
    assert stored_keys(s3_storage) == set()
