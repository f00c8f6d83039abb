"""ETag / Cache-Control / 304 helpers, through a probe route on the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel
from starlette.responses import Response

from loumo.core.http_cache import (
    cache_control,
    cached_json,
    etag_matches,
    make_etag,
    parse_if_none_match,
)
from loumo.core.settings import Settings
from loumo.main import create_app


class Thing(BaseModel):
    id: str
    name: str


STATE = {"name": "tomato"}


def _probe_router() -> APIRouter:
    router = APIRouter(prefix="/_probe")

    @router.get("/things/{thing_id}")
    async def get_thing(thing_id: str, request: Request) -> Response:
        return cached_json(
            request, Thing(id=thing_id, name=STATE["name"]), max_age=60, stale_while_revalidate=30
        )

    @router.get("/mine")
    async def mine(request: Request) -> Response:
        return cached_json(request, {"items": [1, 2, 3]}, public=False, weak=False)

    return router


@pytest.fixture(scope="module")
async def probe_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application: FastAPI = create_app(settings)
    application.include_router(_probe_router())
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_reads_carry_an_etag_and_cache_control(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/_probe/things/t1")

    assert response.status_code == 200
    assert response.json() == {"id": "t1", "name": "tomato"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["etag"] == make_etag(response.content)
    assert response.headers["etag"].startswith('W/"')
    assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=30"


async def test_a_repeated_read_gets_304_without_a_body(probe_client: httpx.AsyncClient) -> None:
    etag = (await probe_client.get("/_probe/things/t1")).headers["etag"]

    response = await probe_client.get("/_probe/things/t1", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"].startswith("public, max-age=60")
    assert "content-type" not in response.headers


async def test_a_changed_body_gets_a_new_etag(
    probe_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    etag = (await probe_client.get("/_probe/things/t1")).headers["etag"]
    monkeypatch.setitem(STATE, "name", "tomate")

    response = await probe_client.get("/_probe/things/t1", headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert response.json()["name"] == "tomate"
    assert response.headers["etag"] != etag


@pytest.mark.parametrize(
    "template",
    ["{etag}", '"nope", {etag}', '{etag},"nope"', "*", "{strong}", '  "a",  {strong} ,"b"'],
)
async def test_if_none_match_forms(probe_client: httpx.AsyncClient, template: str) -> None:
    etag = (await probe_client.get("/_probe/things/t2")).headers["etag"]
    header = template.format(etag=etag, strong=etag.removeprefix("W/"))

    response = await probe_client.get("/_probe/things/t2", headers={"If-None-Match": header})

    assert response.status_code == 304, header


@pytest.mark.parametrize("header", ['"nope"', "W/\"nope\", 'x'", "garbage", ""])
async def test_non_matching_or_malformed_headers_get_the_body(
    probe_client: httpx.AsyncClient, header: str
) -> None:
    response = await probe_client.get("/_probe/things/t3", headers={"If-None-Match": header})
    assert response.status_code == 200
    assert response.json()["id"] == "t3"


async def test_private_strong_responses(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.get("/_probe/mine")
    assert response.headers["cache-control"] == "private, max-age=0"
    assert response.headers["etag"].startswith('"')
    again = await probe_client.get(
        "/_probe/mine", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


def test_parse_if_none_match() -> None:
    assert parse_if_none_match("*") == ["*"]
    assert parse_if_none_match('W/"a", "b,c" ,"d"') == ['W/"a"', '"b,c"', '"d"']
    assert parse_if_none_match('"a" "b"') is None
    assert parse_if_none_match("a") is None
    assert not etag_matches(None, '"a"')
    assert etag_matches('"b,c"', 'W/"b,c"')
    assert not etag_matches('"b"', 'W/"b,c"')


def test_cache_control_values() -> None:
    assert cache_control(max_age=31536000, immutable=True) == "public, max-age=31536000, immutable"
    assert (
        cache_control(public=False, must_revalidate=True) == "private, max-age=0, must-revalidate"
    )
