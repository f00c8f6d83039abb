"""Rate limits: per account and per IP, in memory and shared through Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.main import create_app
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD

API = "/api/v1"
REDIS_URL = "redis://127.0.0.1:6379/0"


async def wrong_login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(
        f"{API}/auth/login", json={"email": email, "password": "not-the-password-0"}
    )


async def test_sixth_wrong_login_for_an_account_gets_429(
    client: httpx.AsyncClient, customer: User
) -> None:
    for _ in range(5):
        assert (await wrong_login(client, customer.email)).status_code == 401
    sixth = await wrong_login(client, customer.email)
    assert sixth.status_code == 429
    assert sixth.headers["content-type"] == "application/problem+json"
    assert sixth.json()["code"] == "rate_limited"
    assert 0 < int(sixth.headers["Retry-After"]) <= 15 * 60
    # even the right password waits for the window, and other accounts are not affected
    right = await client.post(
        f"{API}/auth/login", json={"email": customer.email, "password": DEFAULT_PASSWORD}
    )
    assert right.status_code == 429
    assert (await wrong_login(client, "someone-else@example.com")).status_code == 401


async def test_unknown_accounts_are_limited_like_known_ones(client: httpx.AsyncClient) -> None:
    statuses = [(await wrong_login(client, "ghost@example.com")).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


async def test_resend_and_forgot_are_limited(client: httpx.AsyncClient) -> None:
    for path in ("/auth/resend-verification", "/auth/password/forgot"):
        statuses = [
            (await client.post(f"{API}{path}", json={"email": "x@example.com"})).status_code
            for _ in range(4)
        ]
        assert statuses == [202, 202, 202, 429], path


async def test_code_verification_is_limited(client: httpx.AsyncClient) -> None:
    statuses = [
        (
            await client.post(
                f"{API}/auth/verify-email", json={"email": "x@example.com", "code": "000000"}
            )
        ).status_code
        for _ in range(11)
    ]
    assert statuses == [400] * 10 + [429]


@pytest.fixture
async def redis_apps(database_url: str, tmp_root: Path) -> AsyncIterator[list[FastAPI]]:
    """Two app instances (as two API processes would be) sharing one Redis and database."""
    prefix = f"loumo-test-{uuid.uuid4().hex}"
    apps = []
    for _ in range(2):
        settings = make_settings(
            database_url, tmp_root, redis_url=REDIS_URL, rate_limit_prefix=prefix
        )
        apps.append(create_app(settings))
    contexts = [a.router.lifespan_context(a) for a in apps]
    for context in contexts:
        await context.__aenter__()
    try:
        yield apps
    finally:
        await apps[0].state.rate_limiter.reset()
        for context in contexts:
            await context.__aexit__(None, None, None)


async def test_login_limit_is_shared_by_processes_through_redis(
    redis_apps: list[FastAPI], customer: User, app: FastAPI
) -> None:
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://testserver")
        for a in redis_apps
    ]
    try:
        for attempt in range(5):
            answer = await wrong_login(clients[attempt % 2], customer.email)
            assert answer.status_code == 401
        for c in clients:
            sixth = await wrong_login(c, customer.email)
            assert sixth.status_code == 429
            assert int(sixth.headers["Retry-After"]) > 0
        ready = await clients[0].get("/readyz")
        assert ready.json()["checks"]["rate_limits"] == "ok"
    finally:
        for c in clients:
            await c.aclose()


async def test_redis_keys_carry_the_configured_prefix(
    redis_apps: list[FastAPI], customer: User, db: AsyncSession, app: FastAPI
) -> None:
    import redis.asyncio as redis

    transport = httpx.ASGITransport(app=redis_apps[0])
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await wrong_login(c, customer.email)
    prefix = redis_apps[0].state.settings.rate_limit_prefix
    client = redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    finally:
        await client.aclose()
    assert keys
