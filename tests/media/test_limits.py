"""What an upload may cost (issue 10, items 1 and 9): no pooled connection while it waits, a
bounded decoding queue (503), pixels bounded by a setting, a per-user quota on unattached
files (409), and a stored original never larger than needed."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import ExifTags, Image
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import Database
from loumo.media.images import DecodeQueue, DecodersBusy, process_image
from loumo.media.storage import Storage
from tests import images
from tests.conftest import AuthHeaders
from tests.media.test_upload import PROBLEM, media_rows, upload


@pytest.fixture
def tuned(app: FastAPI) -> Iterator[Any]:
    """`tuned(name=value, ...)` changes the app's settings for one test."""
    original = app.state.settings

    def tune(**values: Any) -> None:
        app.state.settings = original.model_copy(update=values)

    yield tune
    app.state.settings = original


@pytest.fixture
def small_queue(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[DecodeQueue]:
    """One decoding thread and room for one more upload to wait."""
    queue = DecodeQueue(slots=1, waiting=1)
    monkeypatch.setattr(app.state, "decode_queue", queue, raising=False)
    yield queue
    queue.shutdown()


def noisy_jpeg(quality: int, *, exif: bytes | None = None, side: int = 300) -> bytes:
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return out.getvalue()


# --- item 1: decoding has its own bounded queue, and nobody waits holding a connection -------


async def test_a_full_decoding_queue_is_a_503_with_retry_after(
    client: httpx.AsyncClient,
    auth_headers: AuthHeaders,
    app_storage: Storage,
    db: AsyncSession,
    small_queue: DecodeQueue,
    app: FastAPI,
) -> None:
    release = threading.Event()
    running = asyncio.create_task(small_queue.run(release.wait))
    headers = await auth_headers("u-1")
    waiting = asyncio.create_task(upload(client, headers, images.image_bytes()))
    try:
        while small_queue.admitted < 2:  # the upload now waits for the thread
            await asyncio.sleep(0.01)
        # The waiting upload holds no pooled connection: its caller was looked up in a
        # session of its own, and its unit of work has not needed the database yet.
        assert app.state.db.engine.pool.checkedout() == 0

        refused = await upload(client, headers, images.image_bytes("JPEG"))

        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["code"] == "image_decoders_busy"
        assert int(refused.headers["retry-after"]) > 0
    finally:
        release.set()
        await running
    assert (await waiting).status_code == 201
    assert await media_rows(db) == 1


async def test_the_queue_admits_again_once_a_decode_ends() -> None:
    queue = DecodeQueue(slots=1, waiting=0)
    release = threading.Event()
    try:
        running = asyncio.create_task(queue.run(release.wait))
        while queue.admitted < 1:
            await asyncio.sleep(0.01)
        with pytest.raises(DecodersBusy):
            await queue.run(lambda: None)
        release.set()
        await running
        assert await queue.run(lambda: 42) == 42
    finally:
        queue.shutdown()


async def test_an_exhausted_pool_is_a_503_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    real: Database = app.state.db
    small = Database(real.url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app.state.db = small
    try:
        async with small.engine.connect():  # takes the only connection
            response = await client.get("/api/v1/products")
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "busy"
        assert int(response.headers["retry-after"]) > 0
        assert (await client.get("/api/v1/products")).status_code == 200
    finally:
        app.state.db = real
        await small.dispose()


# --- item 9: pixels, quota, and stored sizes --------------------------------------------------


async def test_the_pixel_limit_is_a_setting_checked_before_decoding(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage, tuned: Any
) -> None:
    tuned(media_max_pixels=10_000)
    headers = await auth_headers("u-1")

    refused = await upload(client, headers, images.image_bytes("PNG", (101, 100)))
    accepted = await upload(client, headers, images.image_bytes("PNG", (100, 100)))

    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "image_too_large"
    assert accepted.status_code == 201, accepted.text


async def test_unattached_uploads_are_bounded_per_user(
    client: httpx.AsyncClient,
    auth_headers: AuthHeaders,
    app_storage: Storage,
    db: AsyncSession,
    tuned: Any,
) -> None:
    first = images.image_bytes("PNG", (400, 300), color=(10, 20, 30))
    headers = await auth_headers("u-1")
    stored = await upload(client, headers, first)
    assert stored.status_code == 201, stored.text
    used = sum(r["bytes"] for r in stored.json()["renditions"])
    tuned(media_unattached_quota_bytes=used + 100)

    over = await upload(client, headers, images.image_bytes("PNG", (400, 300), color=(1, 2, 3)))
    again = await upload(client, headers, first)  # the same file takes no more room
    other_user = await upload(
        client, await auth_headers("u-2"), images.image_bytes("PNG", (100, 80), color=(4, 5, 6))
    )

    assert over.status_code == 409, over.text
    assert over.headers["content-type"] == PROBLEM
    assert (over.json()["code"], over.json()["used_bytes"]) == ("upload_quota_exceeded", used)
    assert again.status_code == 201
    assert other_user.status_code == 201
    assert await media_rows(db) == 2


def test_a_clean_upload_smaller_than_its_re_encoding_is_kept_as_it_came() -> None:
    data = noisy_jpeg(quality=30)

    processed = process_image(data)

    assert processed.original.data == data


def test_an_upload_with_metadata_is_cleaned_and_stored_no_larger() -> None:
    data = noisy_jpeg(quality=30, exif=images.gps_exif().tobytes())

    processed = process_image(data)

    assert len(processed.original.data) <= len(data)
    assert ExifTags.IFD.GPSInfo not in Image.open(io.BytesIO(processed.original.data)).getexif()


@pytest.mark.parametrize(
    "data",
    [
        images.png_with_gps(),
        images.png_with_icc_and_text(),
        images.image_bytes("PNG") + b"hidden payload",
        images.image_bytes("JPEG", quality=20) + b"hidden payload",
        images.jpeg_with_orientation(6),
    ],
    ids=["png-gps", "png-icc-text", "png-trailer", "jpeg-trailer", "jpeg-exif"],
)
def test_uploads_carrying_anything_but_pixels_are_never_kept(data: bytes) -> None:
    assert process_image(data).original.data != data
