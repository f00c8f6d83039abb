"""JSON above ~1 KB is compressed for clients that accept it; images and small bodies never are."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import brotli
import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from loumo.core.http_cache import cached_json
from loumo.core.settings import Settings
from loumo.main import create_app
from tests.conftest import make_settings

BIG: dict[str, object] = {
    "items": [{"id": i, "name": f"Tomates de Foumbot {i}", "price": 4500} for i in range(200)]
}
SMALL: dict[str, object] = {"ok": True}


def _probe_router() -> APIRouter:
    router = APIRouter(prefix="/_probe")

    @router.get("/big")
    async def big() -> dict[str, object]:
        return BIG

    @router.get("/small")
    async def small() -> dict[str, object]:
        return SMALL

    @router.get("/cached")
    async def cached(request: Request) -> Response:
        return cached_json(request, BIG, max_age=60)

    @router.get("/picture")
    async def picture() -> Response:
        return Response(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50_000, media_type="image/png")

    @router.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    return router


@pytest.fixture(scope="module")
async def probe_client(database_url: str, tmp_root: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings: Settings = make_settings(database_url, tmp_root, max_body_bytes=4096)
    application: FastAPI = create_app(settings)
    application.include_router(_probe_router())
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def _raw_get(
    client: httpx.AsyncClient, path: str, accept_encoding: str | None, **headers: str
) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (not decoded by httpx)."""
    request = client.build_request("GET", path, headers=headers)
    del request.headers["accept-encoding"]  # httpx sends one by default
    if accept_encoding is not None:
        request.headers["accept-encoding"] = accept_encoding
    response = await client.send(request, stream=True)
    try:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return response, raw


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [
        ("gzip", "gzip", gzip.decompress),
        ("br", "br", brotli.decompress),
        ("gzip, deflate, br", "br", brotli.decompress),
    ],
)
async def test_large_json_is_compressed(
    probe_client: httpx.AsyncClient, accept: str, encoding: str, decode: object
) -> None:
    response, raw = await _raw_get(probe_client, "/_probe/big", accept)

    assert response.status_code == 200
    assert response.headers["content-encoding"] == encoding
    assert "accept-encoding" in response.headers["vary"].lower()
    assert response.headers["x-request-id"]  # the request-id middleware still wraps it
    body = decode(raw)  # type: ignore[operator]
    assert json.loads(body) == BIG
    assert len(raw) < len(body) / 4
    assert int(response.headers["content-length"]) == len(raw)


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0"])
async def test_nothing_is_compressed_for_clients_that_do_not_ask(
    probe_client: httpx.AsyncClient, accept: str | None
) -> None:
    response, raw = await _raw_get(probe_client, "/_probe/big", accept)
    assert "content-encoding" not in response.headers
    assert json.loads(raw) == BIG


async def test_small_json_and_images_are_left_alone(probe_client: httpx.AsyncClient) -> None:
    small, raw = await _raw_get(probe_client, "/_probe/small", "gzip, br")
    assert "content-encoding" not in small.headers
    assert json.loads(raw) == SMALL

    picture, raw = await _raw_get(probe_client, "/_probe/picture", "gzip, br")
    assert "content-encoding" not in picture.headers
    assert picture.headers["content-type"] == "image/png"
    assert len(raw) == 50_008


async def test_etag_and_304_work_with_compression(probe_client: httpx.AsyncClient) -> None:
    first, _ = await _raw_get(probe_client, "/_probe/cached", "gzip")
    assert first.headers["content-encoding"] == "gzip"

    again, raw = await _raw_get(
        probe_client, "/_probe/cached", "gzip", **{"If-None-Match": first.headers["etag"]}
    )

    assert again.status_code == 304
    assert raw == b""
    assert "content-encoding" not in again.headers


async def test_the_body_limit_still_applies(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/_probe/echo", content=b"x" * 5000, headers={"Accept-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    ok = await probe_client.post("/_probe/echo", content=b"x" * 100)
    assert ok.json() == {"received": 100}
