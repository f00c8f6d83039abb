"""Bad input gets a 4xx problem document and creates nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.jobs.models import Job
from tests.factories import auth_headers, count

API = "/api/v1"
FULL_WIDTH_CODE = "".join(chr(0xFF10 + d) for d in (1, 2, 3, 4, 5, 6))
GOOD = {"name": "Ada", "email": "ada@example.com", "password": "a-sound-passphrase-42"}


async def assert_nothing_created(db: AsyncSession) -> None:
    assert await count(db, User) == 0
    assert await count(db, Job) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "ada@example.com", "password": "a-sound-passphrase-42"},
        {**GOOD, "email": None},
        {**GOOD, "email": 42},
        {**GOOD, "password": ["a-sound-passphrase-42"]},
        {**GOOD, "name": {"first": "Ada"}},
        {**GOOD, "name": "   "},
        {**GOOD, "name": "Ada\u0000Lovelace"},
        {**GOOD, "name": "Ada\u202eecalevoL"},
        {**GOOD, "language": "de"},
        {**GOOD, "phone": "call me"},
        {**GOOD, "fidelity_points": 1000},
        {**GOOD, "roles": ["admin"]},
        {**GOOD, "password": "x" * 10_000},
        {**GOOD, "name": "n" * 500},
    ],
)
async def test_invalid_registrations_are_422(
    client: httpx.AsyncClient, db: AsyncSession, body: dict[str, Any]
) -> None:
    response = await client.post(f"{API}/auth/register", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    await assert_nothing_created(db)


@pytest.mark.parametrize(
    "email",
    [
        "\uff41\uff44\uff41@example.com",  # full-width
        "\u0430da@example.com",  # Cyrillic a
        "ada@ex\u0430mple.com",  # Cyrillic a in the domain
        "ada\u0000@example.com",  # NUL
        "ada@example.com\u0000",
        "ada\u200b@example.com",  # zero-width space
        " ada @example.com",
        "ada@example.com\n",
        "ada@localhost",
        "ada@",
        "@example.com",
        "ada" + "a" * 300 + "@example.com",
        "ada@@example.com",
    ],
)
async def test_unicode_tricks_in_email_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, email: str
) -> None:
    response = await client.post(f"{API}/auth/register", json={**GOOD, "email": email})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "email"
    await assert_nothing_created(db)


async def test_ten_megabyte_body_is_413(client: httpx.AsyncClient, db: AsyncSession) -> None:
    body = b'{"name": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    response = await client.post(
        f"{API}/auth/register", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    await assert_nothing_created(db)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"name=ada", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
        (b"[]", "application/json"),
        (b'"ada"', "application/json"),
    ],
)
async def test_malformed_bodies_are_4xx(
    client: httpx.AsyncClient, db: AsyncSession, content: bytes, content_type: str
) -> None:
    response = await client.post(
        f"{API}/auth/register", content=content, headers={"content-type": content_type}
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    await assert_nothing_created(db)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/login", {"email": "ada@example.com"}),
        ("/auth/login", {"email": "ada@example.com", "password": 1234567890}),
        ("/auth/verify-email", {"email": "ada@example.com"}),
        ("/auth/verify-email", {"email": "ada@example.com", "code": "12345"}),
        ("/auth/verify-email", {"email": "ada@example.com", "code": FULL_WIDTH_CODE}),
        ("/auth/refresh", {}),
        ("/auth/refresh", {"refresh_token": ""}),
        ("/auth/logout", {"refresh_token": None}),
        ("/auth/password/forgot", {"email": "not-an-email"}),
        ("/auth/password/reset", {"token": "x"}),
        ("/auth/password/reset", {"email": "ada@example.com", "new_password": "a-b-c-d-e-f-g"}),
    ],
)
async def test_invalid_auth_payloads_are_422(
    client: httpx.AsyncClient, db: AsyncSession, path: str, body: dict[str, Any]
) -> None:
    response = await client.post(f"{API}{path}", json=body)
    assert response.status_code == 422, response.text
    await assert_nothing_created(db)


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/auth/refresh", json={"refresh_token": "nope"})
    assert response.status_code == 401 and response.json()["code"] == "invalid_refresh_token"


async def test_garbage_bearer_tokens_are_401(client: httpx.AsyncClient) -> None:
    for value in ("Bearer nope", "Bearer a.b.c", "Basic Zm9vOmJhcg=="):
        response = await client.get(f"{API}/me", headers={"Authorization": value})
        assert response.status_code == 401, value


NUL = "\u0000"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users/a%00b", None),
        ("GET", "/users?email=a%00", None),
        ("GET", "/users?role=%00", None),
        ("GET", "/audit-log?action=x%00", None),
        ("GET", "/me/addresses/%00", None),
        ("PATCH", "/me", {"name": f"A{NUL}"}),
        (
            "POST",
            "/me/addresses",
            {"label": "H", "street": "S", "locality": "L", "zone_id": f"z{NUL}"},
        ),
        (
            "POST",
            "/me/addresses",
            {"label": "H", "street": "S", "locality": "L", "zone_id": "z", "description": NUL},
        ),
        ("POST", "/roles", {"name": "r_x", "description": f"d{NUL}"}),
        ("POST", "/auth/login", {"email": "a@example.com", "password": f"p{NUL}"}),
        ("POST", "/auth/refresh", {"refresh_token": f"t{NUL}"}),
        ("POST", "/auth/verify-email", {"token": f"t{NUL}"}),
    ],
)
async def test_nul_bytes_anywhere_are_4xx(
    client: httpx.AsyncClient, app: FastAPI, admin: User, method: str, path: str, body: Any
) -> None:
    headers = await auth_headers(app, admin)
    response = await client.request(method, f"{API}{path}", json=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
