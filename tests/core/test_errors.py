"""Every error is a problem document with a stable code and the request id."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from loumo.core.db import SessionDep
from loumo.core.errors import AppError, BadRequest, Conflict
from loumo.core.settings import Settings
from loumo.jobs.models import Job
from loumo.main import create_app

PROBLEM = "application/problem+json"


class AttemptCounted(BadRequest):
    code, title = "attempt_counted", "Attempt counted"
    keep_changes = True


REFUSALS: dict[str, AppError] = {
    "kept_by_class": AttemptCounted("Wrong, but counted"),
    "kept_by_raise": Conflict("Refused, but traced", keep_changes=True),
    "rolled_back": Conflict("Refused"),
    "opted_out": AttemptCounted("Not counted this time", keep_changes=False),
}


class Item(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1)


def _probe_router() -> APIRouter:
    router = APIRouter(prefix="/_probe")

    @router.post("/items", status_code=201)
    async def create_item(item: Item, session: SessionDep) -> dict[str, str]:
        session.add(Job(name=f"probe.{item.name}", payload={"quantity": item.quantity}))
        return {"status": "created"}

    @router.post("/commit-fails", status_code=201)
    async def commit_fails(session: SessionDep) -> dict[str, str]:
        # Not flushed here: the NOT NULL violation surfaces only when the unit of work commits.
        session.add(Job(name="probe.ok"))
        session.add(Job(name=None))
        return {"status": "created"}

    @router.post("/refused/{how}")
    async def refused(how: str, session: SessionDep) -> None:
        session.add(Job(name=f"probe.{how}"))
        await session.flush()
        raise REFUSALS[how]

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals must not leak")

    @router.get("/conflict")
    async def conflict() -> None:
        raise Conflict("That thing already exists")

    @router.get("/data-error")
    async def data_error() -> None:
        raise sa_exc.DataError("SELECT $1", (3_000_000_000,), ValueError("out of int32 range"))

    @router.get("/connection-lost/{invalidated}")
    async def connection_lost(invalidated: bool) -> None:
        raise sa_exc.InterfaceError(
            "SELECT 1",
            (),
            ConnectionError("connection to 10.1.2.3 is closed"),
            connection_invalidated=invalidated,
        )

    return router


@pytest.fixture(scope="module")
async def probe_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    application.include_router(_probe_router())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def probe(probe_app: FastAPI, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=probe_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _job_count(probe_app: FastAPI) -> int:
    async with probe_app.state.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Job)) or 0)


def _assert_problem(resp: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"] and body["detail"]
    assert body["request_id"] == resp.headers["x-request-id"]
    assert isinstance(body, dict)
    return body


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    body = _assert_problem(await client.get("/api/v1/nowhere"), 404, "not_found")
    assert "/api/v1/nowhere" in str(body["detail"])


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    _assert_problem(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_malformed_json_is_400_and_changes_nothing(
    probe: httpx.AsyncClient, probe_app: FastAPI
) -> None:
    resp = await probe.post(
        "/_probe/items", content=b'{"name": "x",', headers={"content-type": "application/json"}
    )
    _assert_problem(resp, 400, "malformed_json")
    assert await _job_count(probe_app) == 0


async def test_validation_errors_list_fields(probe: httpx.AsyncClient, probe_app: FastAPI) -> None:
    resp = await probe.post("/_probe/items", json={"name": "", "quantity": "many"})
    body = _assert_problem(resp, 422, "validation_error")
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"name", "quantity"}
    assert await _job_count(probe_app) == 0


async def test_valid_request_commits_once(probe: httpx.AsyncClient, probe_app: FastAPI) -> None:
    resp = await probe.post("/_probe/items", json={"name": "tea", "quantity": 2})
    assert resp.status_code == 201
    assert await _job_count(probe_app) == 1


async def test_failing_commit_is_an_error_not_a_2xx(
    probe: httpx.AsyncClient, probe_app: FastAPI
) -> None:
    resp = await probe.post("/_probe/commit-fails")
    _assert_problem(resp, 500, "internal_error")
    assert await _job_count(probe_app) == 0


@pytest.mark.parametrize(
    ("how", "status", "code", "jobs"),
    [
        ("kept_by_class", 400, "attempt_counted", 1),
        ("kept_by_raise", 409, "conflict", 1),
        ("rolled_back", 409, "conflict", 0),
        ("opted_out", 400, "attempt_counted", 0),
    ],
)
async def test_an_error_commits_what_was_flushed_only_when_it_keeps_changes(
    probe: httpx.AsyncClient, probe_app: FastAPI, how: str, status: int, code: str, jobs: int
) -> None:
    body = _assert_problem(await probe.post(f"/_probe/refused/{how}"), status, code)
    assert "keep_changes" not in body
    assert await _job_count(probe_app) == jobs


async def test_oversized_body_by_length(probe: httpx.AsyncClient, probe_app: FastAPI) -> None:
    big = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'", "quantity": 1}'
    resp = await probe.post(
        "/_probe/items", content=big, headers={"content-type": "application/json"}
    )
    _assert_problem(resp, 413, "payload_too_large")
    assert await _job_count(probe_app) == 0


async def test_oversized_body_streamed_without_length(
    probe: httpx.AsyncClient, probe_app: FastAPI
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'", "quantity": 1}'

    resp = await probe.post(
        "/_probe/items", content=chunks(), headers={"content-type": "application/json"}
    )
    _assert_problem(resp, 413, "payload_too_large")
    assert await _job_count(probe_app) == 0


async def test_internal_error_hides_internals_and_logs_them(
    probe: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="loumo.errors"):
        resp = await probe.get("/_probe/boom", headers={"X-Request-ID": "boom-request-0001"})
    body = _assert_problem(resp, 500, "internal_error")
    assert body["request_id"] == "boom-request-0001"
    assert "secret internals" not in resp.text and "Traceback" not in resp.text
    logged = [(r.msg, r.exc_info) for r in caplog.records if isinstance(r.msg, dict)]
    assert any(m.get("request_id") == "boom-request-0001" and exc for m, exc in logged), (
        "the 500 must be logged with its stack and request id"
    )


async def test_domain_error_keeps_its_code(probe: httpx.AsyncClient) -> None:
    body = _assert_problem(await probe.get("/_probe/conflict"), 409, "conflict")
    assert body["detail"] == "That thing already exists"


async def test_request_id_is_echoed_when_well_formed(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz", headers={"X-Request-ID": "abc-DEF_123.456"})
    assert resp.headers["x-request-id"] == "abc-DEF_123.456"


async def test_malformed_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert resp.headers["x-request-id"] != "bad id\twith spaces"
    assert len(resp.headers["x-request-id"]) == 32


async def test_a_value_the_database_refuses_is_a_400_not_a_500(probe: httpx.AsyncClient) -> None:
    body = _assert_problem(await probe.get("/_probe/data-error"), 400, "invalid_value")
    assert "int32" not in str(body)


async def test_a_lost_database_connection_is_a_503_to_retry(probe: httpx.AsyncClient) -> None:
    resp = await probe.get("/_probe/connection-lost/true")
    body = _assert_problem(resp, 503, "database_unavailable")
    assert int(resp.headers["retry-after"]) > 0
    assert "10.1.2.3" not in str(body)


async def test_any_other_driver_error_stays_a_500(probe: httpx.AsyncClient) -> None:
    body = _assert_problem(await probe.get("/_probe/connection-lost/false"), 500, "internal_error")
    assert "10.1.2.3" not in str(body)
