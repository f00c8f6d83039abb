"""Rate limits: per account and per IP, in memory and shared through Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.codes import MAX_CODE_ATTEMPTS, derive_secrets, find_code, new_code
from loumo.accounts.context import AuthContext
from loumo.accounts.errors import InvalidCode
from loumo.accounts.models import OneTimeCode, User
from loumo.accounts.signin import LOGIN_PER_ACCOUNT, LOGIN_PER_ACCOUNT_IP
from loumo.audit.service import RequestMeta
from loumo.main import create_app
from tests.accounts.mailbox import last_mail
from tests.conftest import make_settings
from tests.factories import DEFAULT_PASSWORD, create_user

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


# --- limits that hold under concurrency (issue 10, items 2 and 3) ------------------------------


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    """A client of `app` calling from address `ip` (the limits key on it)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def assert_at_most_five_guesses(statuses: list[int]) -> None:
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 5, statuses
    assert statuses.count(429) >= len(statuses) - 5, statuses


async def test_forty_parallel_wrong_logins_get_at_most_five_401s(
    app: FastAPI, customer: User
) -> None:
    async with client_from(app, "198.51.100.7") as c:
        answers = await asyncio.gather(*(wrong_login(c, customer.email) for _ in range(40)))
        statuses = [a.status_code for a in answers]
        assert_at_most_five_guesses(statuses)
        assert all(int(a.headers["Retry-After"]) > 0 for a in answers if a.status_code == 429)
        right = {"email": customer.email, "password": DEFAULT_PASSWORD}
        assert (await c.post(f"{API}/auth/login", json=right)).status_code == 429


async def test_forty_parallel_wrong_logins_through_redis_get_at_most_five_401s(
    redis_apps: list[FastAPI], customer: User, app: FastAPI
) -> None:
    clients = [client_from(a, "198.51.100.7") for a in redis_apps]
    try:
        answers = await asyncio.gather(
            *(wrong_login(clients[n % 2], customer.email) for n in range(40))
        )
        assert_at_most_five_guesses([a.status_code for a in answers])
        # keyed on account + address in Redis too: the owner, elsewhere, is not locked out,
        # and their success clears their own failures
        right = {"email": customer.email, "password": DEFAULT_PASSWORD}
        async with client_from(redis_apps[1], "192.0.2.10") as owner:
            for _ in range(4):
                assert (await wrong_login(owner, customer.email)).status_code == 401
            assert (await owner.post(f"{API}/auth/login", json=right)).status_code == 200
            assert (await wrong_login(owner, customer.email)).status_code == 401
    finally:
        for c in clients:
            await c.aclose()


async def test_wrong_logins_from_elsewhere_do_not_lock_the_owner_out(
    app: FastAPI, customer: User
) -> None:
    right = {"email": customer.email, "password": DEFAULT_PASSWORD}
    async with client_from(app, "203.0.113.66") as stranger, client_from(app, "192.0.2.10") as me:
        statuses = [(await wrong_login(stranger, customer.email)).status_code for _ in range(6)]
        assert statuses == [401] * 5 + [429]
        assert (await me.post(f"{API}/auth/login", json=right)).status_code == 200
        # the owner's own mistakes are forgiven by their next success
        for _ in range(4):
            assert (await wrong_login(me, customer.email)).status_code == 401
        assert (await me.post(f"{API}/auth/login", json=right)).status_code == 200
        for _ in range(5):
            assert (await wrong_login(me, customer.email)).status_code == 401
        assert (await me.post(f"{API}/auth/login", json=right)).status_code == 429


async def test_the_account_ceiling_holds_and_a_password_reset_lifts_it(
    app: FastAPI, customer: User
) -> None:
    ceiling = LOGIN_PER_ACCOUNT.item.amount
    per_client = LOGIN_PER_ACCOUNT_IP.item.amount
    addresses = [f"203.0.113.{n}" for n in range(1, ceiling // per_client + 1)]
    for address in addresses:  # a distributed guesser: each address stays under its own limit
        async with client_from(app, address) as c:
            statuses = [
                (await wrong_login(c, customer.email)).status_code for _ in range(per_client)
            ]
            assert statuses == [401] * per_client
    right = {"email": customer.email, "password": DEFAULT_PASSWORD}
    async with client_from(app, "192.0.2.10") as owner:
        locked = await owner.post(f"{API}/auth/login", json=right)
        assert locked.status_code == 429  # the ceiling: the owner too, from anywhere
        forgot = await owner.post(f"{API}/auth/password/forgot", json={"email": customer.email})
        assert forgot.status_code == 202
        token = (await last_mail(app, "password_reset")).token
        body = {"token": token, "new_password": "a-brand-new-phrase-31"}
        assert (await owner.post(f"{API}/auth/password/reset", json=body)).status_code == 200
        new = {"email": customer.email, "password": "a-brand-new-phrase-31"}
        assert (await owner.post(f"{API}/auth/login", json=new)).status_code == 200
    async with client_from(app, addresses[0]) as guesser:  # the guessers start again from zero
        assert (await wrong_login(guesser, customer.email)).status_code == 401


async def test_twenty_parallel_wrong_codes_lock_the_code_after_five(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession
) -> None:
    answer = await client.post(
        f"{API}/auth/register",
        json={"name": "Ada", "email": "ada@example.com", "password": "a-sound-passphrase-42"},
    )
    assert answer.status_code == 202
    code = (await last_mail(app, "verify_email")).code
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    body = {"email": "ada@example.com", "code": wrong}
    answers = await asyncio.gather(
        *(client.post(f"{API}/auth/verify-email", json=body) for _ in range(20))
    )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {400, 429}, statuses
    db.expire_all()
    stored = await db.scalar(select(OneTimeCode))
    assert stored is not None and stored.attempts == MAX_CODE_ATTEMPTS  # none lost, none beyond
    await app.state.rate_limiter.reset()  # not the per-email limit: the code itself is dead
    right = await client.post(
        f"{API}/auth/verify-email", json={"email": "ada@example.com", "code": code}
    )
    assert right.status_code == 400 and right.json()["code"] == "invalid_code"
    user = await db.scalar(select(User))
    assert user is not None and user.email_verified_at is None


async def test_parallel_wrong_codes_are_all_counted_without_the_http_limits(
    app: FastAPI, db: AsyncSession
) -> None:
    """The code's own count, straight through the service (no per-email limit in front)."""
    user = await create_user(db, email="ada@example.com", email_verified_at=None)
    await db.refresh(user)
    ctx = AuthContext(
        secret_key=app.state.secret_key,
        limiter=app.state.rate_limiter,
        public_base_url="http://testserver",
        meta=RequestMeta(ip="192.0.2.1"),
    )
    async with app.state.db.sessionmaker() as session:
        row = await new_code(session, ctx, user, "verify_email", timedelta(hours=1))
        await session.commit()
    code, _ = derive_secrets(app.state.secret_key, row.id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    async def guess(value: str) -> str:
        async with app.state.db.sessionmaker() as session:
            try:
                await find_code(
                    session, ctx, "verify_email", token=None, email="ada@example.com", code=value
                )
            except InvalidCode:
                await session.commit()  # the unit of work keeps a wrong try
                return "wrong"
            await session.commit()
            return "right"

    results = await asyncio.gather(*(guess(wrong) for _ in range(20)))
    assert results == ["wrong"] * 20
    db.expire_all()
    stored = await db.get(OneTimeCode, row.id)
    assert stored is not None and stored.attempts == MAX_CODE_ATTEMPTS
    assert await guess(code) == "wrong"
