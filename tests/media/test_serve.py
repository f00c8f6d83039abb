"""GET /media/{key}: long-lived caching, safe content types, ETag/304, no path traversal."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from loumo.media.storage import LocalStorage, Storage
from tests import images
from tests.conftest import AuthHeaders
from tests.media.conftest import make_s3_storage
from tests.media.test_upload import upload


async def _stored(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    response = await upload(client, headers, images.png_with_gps())
    assert response.status_code == 201, response.text
    return {r["name"]: r["key"] for r in response.json()["renditions"]}


@pytest.mark.parametrize(
    ("name", "content_type"), [("original", "image/png"), ("480", "image/webp")]
)
async def test_files_are_served_with_immutable_caching(
    client: httpx.AsyncClient,
    auth_headers: AuthHeaders,
    app_local_storage: LocalStorage,
    name: str,
    content_type: str,
) -> None:
    key = (await _stored(client, await auth_headers("u-1")))[name]

    response = await client.get(f"/media/{key}", headers={"Accept-Encoding": "gzip, br"})

    assert response.status_code == 200
    assert response.content == await app_local_storage.get(key)
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers  # images are never re-compressed
    assert response.headers["etag"] == f'"{key.replace("/", "-")}"'


async def test_a_known_etag_gets_304_without_a_body(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_local_storage: LocalStorage
) -> None:
    key = (await _stored(client, await auth_headers("u-1")))["160"]
    etag = (await client.get(f"/media/{key}")).headers["etag"]

    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = await client.get(f"/media/{key}", headers={"If-None-Match": if_none_match})
        assert response.status_code == 304, if_none_match
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert "immutable" in response.headers["cache-control"]

    response = await client.get(f"/media/{key}", headers={"If-None-Match": '"other"'})
    assert response.status_code == 200


async def test_head_gives_the_headers_only(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, app_local_storage: LocalStorage
) -> None:
    key = (await _stored(client, await auth_headers("u-1")))["original"]
    response = await client.head(f"/media/{key}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    "path",
    [
        "/media/../../etc/passwd",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/..%2f..%2fsecret_key",
        "/media/secret_key",
        "/media/" + "a" * 64 + "/original.svg",
        "/media/" + "a" * 64 + "/480.webp",  # well-formed, but nothing stored
        "/media/" + "A" * 64 + "/480.webp",
        "/media/",
    ],
)
async def test_anything_but_a_stored_key_is_404(
    client: httpx.AsyncClient, app_local_storage: LocalStorage, path: str
) -> None:
    (app_local_storage.root.parent / "secret_key").write_text("do not serve")

    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert b"do not serve" not in response.content


async def test_nothing_is_served_locally_with_the_s3_backend(
    client: httpx.AsyncClient,
    app: FastAPI,
    auth_headers: AuthHeaders,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage: Storage = make_s3_storage(s3_endpoint)
    monkeypatch.setattr(app.state, "storage", storage, raising=False)
    key = (await _stored(client, await auth_headers("u-1")))["original"]

    assert (await client.get(f"/media/{key}")).status_code == 404
