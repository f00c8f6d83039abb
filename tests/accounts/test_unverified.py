"""Issue 10, item 6: an account whose address is not verified can verify, resend, read `/me`
and sign out, nothing else; verifying revokes every earlier session; registering a pending
address again mails its owner, with the answer of a fresh registration."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from tests.accounts.mailbox import delivered, last_mail
from tests.factories import create_user

API = "/api/v1"
EMAIL = "victim@example.com"
PASSWORD = "attackers-phrase-2024"


async def register(client: httpx.AsyncClient, email: str = EMAIL, name: str = "Mallory") -> Any:
    body = {"name": name, "email": email, "password": PASSWORD, "language": "en"}
    answer = await client.post(f"{API}/auth/register", json=body)
    return answer.status_code, answer.json()


async def sign_in(client: httpx.AsyncClient, password: str = PASSWORD) -> dict[str, Any]:
    answer = await client.post(f"{API}/auth/login", json={"email": EMAIL, "password": password})
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_an_unverified_account_can_only_verify_resend_read_me_and_sign_out(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await register(client)
    tokens = await sign_in(client)
    headers = bearer(tokens)
    me = await client.get(f"{API}/me", headers=headers)
    assert me.status_code == 200 and me.json()["email_verified"] is False
    refused: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PATCH", "/me", {"name": "Other"}),
        ("GET", "/me/addresses", None),
        ("GET", "/me/favorites", None),
        ("GET", "/me/notifications", None),
        ("GET", "/orders", None),
        ("POST", "/checkout/quote", {"items": []}),
    ]
    for method, path, body in refused:
        answer = await client.request(method, f"{API}{path}", headers=headers, json=body)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "email_not_verified", path
    # public reads answer as to anyone
    assert (await client.get(f"{API}/products", headers=headers)).status_code == 200
    resend = await client.post(f"{API}/auth/resend-verification", json={"email": EMAIL})
    assert resend.status_code == 202
    refreshed = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    out = await client.post(
        f"{API}/auth/logout", json={"refresh_token": refreshed.json()["refresh_token"]}
    )
    assert out.status_code == 204
    assert (await client.get(f"{API}/me", headers=bearer(refreshed.json()))).status_code == 401


async def test_verifying_revokes_every_earlier_session(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await register(client)
    squatter = [await sign_in(client) for _ in range(2)]  # whoever registered the address
    token = (await last_mail(app, "verify_email")).token
    verified = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert verified.status_code == 200
    for tokens in squatter:
        assert (await client.get(f"{API}/me", headers=bearer(tokens))).status_code == 401
        again = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert again.status_code == 401
    assert verified.json()["tokens"] is None  # no bearer came with it: no new session


async def test_the_verifying_client_gets_a_fresh_session(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await register(client)
    other_device = await sign_in(client)
    this_device = await sign_in(client)
    code = (await last_mail(app, "verify_email")).code
    verified = await client.post(
        f"{API}/auth/verify-email",
        json={"email": EMAIL, "code": code},
        headers=bearer(this_device),
    )
    assert verified.status_code == 200, verified.text
    fresh = verified.json()["tokens"]
    assert fresh["token_type"] == "bearer" and fresh["refresh_token"]
    for old in (other_device, this_device):
        assert (await client.get(f"{API}/me", headers=bearer(old))).status_code == 401
    now = await client.patch(f"{API}/me", headers=bearer(fresh), json={"name": "Ada"})
    assert now.status_code == 200 and now.json()["email_verified"] is True


async def test_registering_a_pending_address_again_mails_the_owner_without_telling(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession
) -> None:
    fresh = await register(client, email="someone-new@example.com", name="New")
    await register(client)  # the squatter
    squatter = await sign_in(client)
    await delivered(app)
    again = await register(client, name="The Owner")  # the owner, or anyone
    assert again == fresh  # the same answer as a fresh registration
    claim = await last_mail(app, "account_pending_claim", to=EMAIL)
    assert "Mallory" not in claim.text  # the squatter's chosen name is not shown to the owner
    owner_password = "the-owners-own-phrase-5"
    taken = await client.post(
        f"{API}/auth/password/reset",
        json={"email": EMAIL, "code": claim.code, "new_password": owner_password},
    )
    assert taken.status_code == 200, taken.text
    assert (await client.get(f"{API}/me", headers=bearer(squatter))).status_code == 401
    owner = await sign_in(client, owner_password)
    me = await client.get(f"{API}/me", headers=bearer(owner))
    assert me.json()["email_verified"] is True
    user = await db.scalar(select(User).where(User.email == EMAIL))
    assert user is not None and user.email_verified_at is not None


async def test_registering_a_verified_address_sends_no_claim(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession
) -> None:
    await create_user(db, email=EMAIL)
    fresh = await register(client, email="someone-new@example.com", name="New")
    assert await register(client) == fresh
    assert [m.template for m in await delivered(app)] == ["verify_email"]
