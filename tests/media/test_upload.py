"""POST /api/v1/media/images with real files, on each storage backend."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.media.models import MediaFile
from loumo.media.storage import Storage
from tests import images
from tests.conftest import AuthHeaders
from tests.media.conftest import stored_keys

URL = "/api/v1/media/images"
PROBLEM = "application/problem+json"


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    filename: str = "photo.png",
    content_type: str = "image/png",
    purpose: str = "product",
) -> httpx.Response:
    return await client.post(
        URL,
        headers=headers,
        files={"file": (filename, data, content_type)},
        data={"purpose": purpose},
    )


async def media_rows(db: AsyncSession) -> int:
    return (await db.execute(select(func.count()).select_from(MediaFile))).scalar_one()


async def test_upload_answers_the_key_and_rendition_urls(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage, db: AsyncSession
) -> None:
    response = await upload(
        client,
        await auth_headers("u-1"),
        images.image_bytes("JPEG", (1600, 800)),
        filename="p.jpg",
        content_type="image/jpeg",
    )

    assert response.status_code == 201, response.text
    body = response.json()
    key = body["key"]
    assert len(key) == 64
    assert (body["content_type"], body["width"], body["height"]) == ("image/jpeg", 1600, 800)
    renditions = {r["name"]: r for r in body["renditions"]}
    assert set(renditions) == {"original", "160", "480", "1200"}
    assert renditions["480"]["key"] == f"{key}/480.webp"
    assert (renditions["480"]["width"], renditions["480"]["height"]) == (480, 240)
    assert body["url"] == renditions["original"]["url"] == app_storage.url(f"{key}/original.jpg")
    assert stored_keys(app_storage) == {r["key"] for r in renditions.values()}

    row = await db.get(MediaFile, key)
    assert row is not None
    assert (row.uploaded_by, row.purpose, row.reference_count) == ("u-1", "product", 0)
    assert row.bytes == len(await app_storage.get(f"{key}/original.jpg"))


async def test_gps_exif_is_gone_from_what_is_stored(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage
) -> None:
    response = await upload(client, await auth_headers("u-1"), images.png_with_gps())
    assert response.status_code == 201, response.text

    for rendition in response.json()["renditions"]:
        stored = Image.open(io.BytesIO(await app_storage.get(rendition["key"])))
        assert ExifTags.IFD.GPSInfo not in stored.getexif()
        assert dict(stored.getexif()) == {}


async def test_a_png_named_jpg_is_stored_as_png(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage
) -> None:
    response = await upload(
        client,
        await auth_headers("u-1"),
        images.image_bytes("PNG"),
        filename="holiday.jpg",
        content_type="image/jpeg",
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "image/png"
    assert httpx.URL(body["url"]).path.endswith(f"{body['key']}/original.png")


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "status"),
    [
        pytest.param(images.SVG, "logo.svg", "image/svg+xml", 415, id="svg"),
        pytest.param(images.SVG, "logo.png", "image/png", 415, id="svg-named-png"),
        pytest.param(images.TEXT, "notes.png", "image/png", 415, id="text-named-png"),
        pytest.param(images.gif_bytes(), "anim.gif", "image/gif", 415, id="gif"),
        pytest.param(
            images.png_declaring(20_000, 20_000), "bomb.png", "image/png", 413, id="pixel-bomb"
        ),
        pytest.param(
            images.noise_png(6 * 1_048_576), "big.png", "image/png", 413, id="six-megabytes"
        ),
    ],
)
async def test_rejected_uploads_leave_nothing_behind(
    client: httpx.AsyncClient,
    auth_headers: AuthHeaders,
    app_storage: Storage,
    db: AsyncSession,
    data: bytes,
    filename: str,
    content_type: str,
    status: int,
) -> None:
    response = await upload(
        client, await auth_headers("u-1"), data, filename=filename, content_type=content_type
    )

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status
    assert stored_keys(app_storage) == set()
    assert await media_rows(db) == 0


async def test_a_file_just_over_the_limit_inside_the_body_allowance_is_refused(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage, db: AsyncSession
) -> None:
    # The body limit leaves room for multipart framing; the file itself is still held to it.
    data = images.padded(images.image_bytes("PNG"), 5 * 1_048_576 + 1)

    response = await upload(client, await auth_headers("u-1"), data)

    assert response.status_code == 413, response.text
    assert response.json()["code"] == "file_too_large"
    assert stored_keys(app_storage) == set()
    assert await media_rows(db) == 0


async def test_a_file_exactly_at_the_limit_is_accepted(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage
) -> None:
    data = images.padded(images.image_bytes("PNG"), 5 * 1_048_576)
    response = await upload(client, await auth_headers("u-1"), data)
    assert response.status_code == 201, response.text


async def test_a_streamed_oversized_body_is_cut_off(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage, db: AsyncSession
) -> None:
    boundary = "loumo-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nproduct\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    sent = 0

    async def body() -> httpx.AsyncByteStream:  # type: ignore[misc]
        nonlocal sent
        yield head
        for _ in range(200):  # 12.8 MB if nobody stops us, and no Content-Length up front
            sent += 1
            yield b"\x00" * 65536

    response = await client.post(
        URL,
        headers={
            **await auth_headers("u-1"),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=body(),
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert sent < 100
    assert stored_keys(app_storage) == set()
    assert await media_rows(db) == 0


async def test_identical_uploads_share_one_key_and_one_row(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage, db: AsyncSession
) -> None:
    data = images.png_with_gps()
    first = await upload(client, await auth_headers("u-1"), data, filename="a.png")
    second = await upload(client, await auth_headers("u-2"), data, filename="b.jpg", purpose="shop")

    assert first.status_code == second.status_code == 201
    assert first.json()["key"] == second.json()["key"]
    assert await media_rows(db) == 1
    assert len(stored_keys(app_storage)) == 4

    different = await upload(client, await auth_headers("u-1"), images.image_bytes("WEBP"))
    assert different.json()["key"] != first.json()["key"]
    assert await media_rows(db) == 2


async def test_concurrent_identical_uploads_make_one_row(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_storage: Storage, db: AsyncSession
) -> None:
    data = images.image_bytes("WEBP", (900, 900))
    headers = [await auth_headers(f"u-{i}") for i in range(4)]
    responses = await asyncio.gather(*(upload(client, h, data, filename="a.webp") for h in headers))

    assert [r.status_code for r in responses] == [201] * 4
    assert len({r.json()["key"] for r in responses}) == 1
    assert await media_rows(db) == 1
    assert len(stored_keys(app_storage)) == 4


async def test_anonymous_uploads_are_refused_before_reading(
    client: httpx.AsyncClient, app_storage: Storage, db: AsyncSession
) -> None:
    response = await upload(client, {}, images.image_bytes())

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert stored_keys(app_storage) == set()
    assert await media_rows(db) == 0


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        (
            {"file": ("a.png", images.image_bytes(), "image/png")},
            {"purpose": "wallpaper"},
            "purpose",
        ),
        ({"file": ("a.png", images.image_bytes(), "image/png")}, {}, "purpose"),
        (None, {"purpose": "product"}, "file"),
    ],
)
async def test_invalid_forms_get_field_errors(
    client: httpx.AsyncClient,
    auth_headers: AuthHeaders,
    app_storage: Storage,
    files: dict[str, tuple[str, bytes, str]] | None,
    data: dict[str, str],
    field: str,
) -> None:
    if files is None:  # still a multipart body, just without the file
        files = {"other": ("x.txt", b"x", "text/plain")}
    response = await client.post(URL, headers=await auth_headers("u-1"), files=files, data=data)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert stored_keys(app_storage) == set()
