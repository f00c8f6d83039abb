"""Redis down under the rate limits: the API keeps serving, and the limits fail closed (503 on the
rate-limited routes) or open (counted in the process meanwhile) as `RATE_LIMIT_FAIL_OPEN` says.
When Redis answers again, the shared counters are used again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loumo.accounts.models import User
from loumo.main import create_app
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD
from tests.private_services import PrivateRedis, private_redis

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

API = "/api/v1"


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


async def _client(
    database_url: str, tmp_root: Path, redis: PrivateRedis, *, fail_open: bool
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        database_url,
        tmp_root,
        redis_url=redis.url,
        rate_limit_prefix=f"loumo-faults-{uuid.uuid4().hex}",
        rate_limit_fail_open=fail_open,
    )
    application: FastAPI = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture(params=[False, True], ids=["fail-closed", "fail-open"])
async def web(
    request: pytest.FixtureRequest, database_url: str, tmp_root: Path, redis_server: PrivateRedis
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(database_url, tmp_root, redis_server, fail_open=request.param):
        yield c


async def _login(web: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await web.post(f"{API}/auth/login", json={"email": email, "password": password})


async def test_redis_down_and_back(
    web: httpx.AsyncClient,
    redis_server: PrivateRedis,
    customer: User,
    app: FastAPI,
    request: pytest.FixtureRequest,
) -> None:
    fail_open = "fail-open" in request.node.callspec.id
    right = await _login(web, customer.email, DEFAULT_PASSWORD)
    assert right.status_code == 200, right.text
    bearer = {"Authorization": f"Bearer {right.json()['access_token']}"}
    assert (await _login(web, customer.email, "not-the-password-0")).status_code == 401
    assert (await web.get("/readyz")).json()["status"] == "ok"

    redis_server.stop()

    # Routes without a limit keep serving, and the proxy keeps the process: /readyz says 200,
    # "degraded", naming the store without its driver's words.
    assert (await web.get(f"{API}/products")).status_code == 200
    assert (await web.get(f"{API}/me", headers=bearer)).status_code == 200
    ready = await web.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["failing"] == ["rate_limits"]
    assert ready.json()["checks"]["rate_limits"] == "error: unavailable"

    wrong = [(await _login(web, customer.email, "not-the-password-0")) for _ in range(6)]
    if fail_open:
        # Counted in this process meanwhile: the limit still holds, per process.
        assert [a.status_code for a in wrong] == [401] * 5 + [429]
        elsewhere = await _login(web, "someone-else@example.com", "not-the-password-0")
        assert elsewhere.status_code == 401
    else:
        for answer in [*wrong, await _login(web, customer.email, DEFAULT_PASSWORD)]:
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == "rate_limit_unavailable"
            assert int(answer.headers["retry-after"]) > 0
            assert str(redis_server.port) not in answer.text

    redis_server.start()

    ready = await web.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok", ready.text
    # The shared store counts again (a fresh Redis: no failure of the outage is remembered
    # there), so the right password and a wrong one get their usual answers.
    other = "another-one@example.com"
    assert (await _login(web, other, "not-the-password-0")).status_code == 401
    assert (await _login(web, customer.email, DEFAULT_PASSWORD)).status_code == 200
    statuses = [(await _login(web, other, "not-the-password-0")).status_code for _ in range(5)]
    assert statuses == [401] * 4 + [429]
