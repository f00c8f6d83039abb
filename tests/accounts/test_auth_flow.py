"""Registration, verification, sign-in, rotation, sign-out and password reset, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import OneTimeCode, User, UserRole
from loumo.audit.models import AuditEntry
from tests.accounts.mailbox import last_mail
from tests.factories import DEFAULT_PASSWORD, auth_headers, count, create_user, jobs_named

API = "/api/v1"
PASSWORD = "a-sound-passphrase-42"


async def register(client: httpx.AsyncClient, email: str = "Ada@Example.com") -> httpx.Response:
    return await client.post(
        f"{API}/auth/register",
        json={"name": "Ada Lovelace", "email": email, "password": PASSWORD, "language": "en"},
    )


async def last_email(db: AsyncSession, template: str) -> dict[str, Any]:
    jobs = [j for j in await jobs_named(db, "email.send") if j.payload["template"] == template]
    assert jobs, f"no {template} email was deferred"
    return jobs[-1].payload


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password})


async def test_register_verify_login_refresh_me_end_to_end(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI
) -> None:
    response = await register(client)
    assert response.status_code == 202, response.text

    mail = await last_mail(app, "verify_email")
    assert mail.to == "ada@example.com" and "Hello Ada Lovelace" in mail.text
    code = mail.code
    assert len(code) == 6 and code.isdigit()
    stored = await db.scalar(select(OneTimeCode))
    assert stored is not None and code not in (stored.code_hash, stored.token_hash)
    assert mail.token not in (stored.code_hash, stored.token_hash)

    verified = await client.post(
        f"{API}/auth/verify-email", json={"email": "ada@example.com", "code": code}
    )
    assert verified.status_code == 200, verified.text
    assert (await last_email(db, "welcome"))["context"] == {"name": "Ada Lovelace"}

    tokens = (await login(client, "ADA@example.com", PASSWORD)).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900

    refreshed = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    pair = refreshed.json()
    assert pair["refresh_token"] != tokens["refresh_token"]

    me = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    body = me.json()
    assert body["email"] == "ada@example.com" and body["email_verified"] is True
    assert body["roles"] == ["customer"] and body["fidelity_points"] == 0


async def test_verification_by_link_token_is_single_use(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await register(client)
    token = (await last_mail(app, "verify_email")).token
    first = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert first.status_code == 200
    again = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["code"] == "invalid_code"


async def test_a_code_dies_after_five_wrong_attempts(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI
) -> None:
    await register(client)
    code = (await last_mail(app, "verify_email")).code
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for tries in range(1, 6):
        answer = await client.post(
            f"{API}/auth/verify-email", json={"email": "ada@example.com", "code": wrong}
        )
        assert answer.status_code == 400
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "invalid_code"
        db.expire_all()
        stored = await db.scalar(select(OneTimeCode))  # the attempt is committed, not rolled back
        assert stored is not None and stored.attempts == tries and stored.used_at is None
    right = await client.post(
        f"{API}/auth/verify-email", json={"email": "ada@example.com", "code": code}
    )
    assert right.status_code == 400
    user = await db.scalar(select(User))
    assert user is not None and user.email_verified_at is None


async def test_resend_replaces_the_code(client: httpx.AsyncClient, app: FastAPI) -> None:
    await register(client)
    old = (await last_mail(app, "verify_email")).code
    resent = await client.post(f"{API}/auth/resend-verification", json={"email": "ada@example.com"})
    assert resent.status_code == 202
    new = (await last_mail(app, "verify_email")).code
    if old != new:
        stale = await client.post(
            f"{API}/auth/verify-email", json={"email": "ada@example.com", "code": old}
        )
        assert stale.status_code == 400
    ok = await client.post(
        f"{API}/auth/verify-email", json={"email": "ada@example.com", "code": new}
    )
    assert ok.status_code == 200


async def test_no_user_enumeration(client: httpx.AsyncClient, db: AsyncSession) -> None:
    known = await create_user(db, email="known@example.com")
    for path, payload in [
        ("/auth/register", {"name": "X", "email": "{email}", "password": PASSWORD}),
        ("/auth/resend-verification", {"email": "{email}"}),
        ("/auth/password/forgot", {"email": "{email}"}),
    ]:
        answers = []
        for email in (known.email, "nobody@example.com"):
            body = {k: v.format(email=email) for k, v in payload.items()}
            response = await client.post(f"{API}{path}", json=body)
            answers.append((response.status_code, response.json()))
        assert answers[0] == answers[1], path
    assert await count(db, User) == 2  # the known one and the newly registered one
    for email in (known.email, "nobody@example.com"):
        failed = await login(client, email, "wrong-password-123")
        assert failed.status_code == 401
        assert failed.json()["code"] == "invalid_credentials"
        assert failed.json()["detail"] == "The email or the password is wrong"


async def test_refresh_token_reuse_revokes_the_family(
    client: httpx.AsyncClient, customer: User
) -> None:
    first = (await login(client, customer.email, DEFAULT_PASSWORD)).json()
    second = (
        await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    reused = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 401 and reused.json()["code"] == "invalid_refresh_token"
    # the whole family is dead: the token issued by the rotation, and its access token
    later = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert later.status_code == 401
    me = await client.get(
        f"{API}/me", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert me.status_code == 401


async def test_logout_revokes_at_once(client: httpx.AsyncClient, customer: User) -> None:
    tokens = (await login(client, customer.email, DEFAULT_PASSWORD)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 200
    out = await client.post(f"{API}/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 401
    again = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert again.status_code == 401


@pytest.mark.parametrize("way", ["token", "code"])
async def test_password_reset_revokes_every_session(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, customer: User, way: str
) -> None:
    tokens = (await login(client, customer.email, DEFAULT_PASSWORD)).json()
    forgot = await client.post(f"{API}/auth/password/forgot", json={"email": customer.email})
    assert forgot.status_code == 202
    mail = await last_mail(app, "password_reset")
    if way == "token":
        secret = {"token": mail.token}
    else:
        secret = {"email": customer.email, "code": mail.code}
    weak = await client.post(
        f"{API}/auth/password/reset", json={**secret, "new_password": "password123"}
    )
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    reset = await client.post(
        f"{API}/auth/password/reset", json={**secret, "new_password": "brand-new-secret-77"}
    )
    assert reset.status_code == 200, reset.text
    reused = await client.post(
        f"{API}/auth/password/reset", json={**secret, "new_password": "another-secret-88"}
    )
    assert reused.status_code == 400
    me = await client.get(
        f"{API}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 401
    assert (await login(client, customer.email, DEFAULT_PASSWORD)).status_code == 401
    assert (await login(client, customer.email, "brand-new-secret-77")).status_code == 200
    assert (await last_email(db, "password_changed"))["to"] == customer.email
    actions = set(await db.scalars(select(AuditEntry.action)))
    assert {"auth.password_reset_requested", "auth.password_reset"} <= actions


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-1", "at least 10"),
        ("qwertyuiop", "too common"),
        ("Password123", "too common"),
        ("ada@example.com", "email"),
        ("ADA@EXAMPLE.COM", "email"),
    ],
)
async def test_password_policy(
    client: httpx.AsyncClient, db: AsyncSession, password: str, reason: str
) -> None:
    response = await client.post(
        f"{API}/auth/register",
        json={"name": "Ada", "email": "ada@example.com", "password": password},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "weak_password" and reason in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "password"
    assert await count(db, User) == 0


async def test_login_rehashes_outdated_password_hashes(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    weak_params = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    user = await create_user(db, password_hash=weak_params.hash("old-params-password"))
    assert (await login(client, user.email, "old-params-password")).status_code == 200
    await db.refresh(user)
    assert user.password_hash.startswith("$argon2id$") and "m=8192" not in user.password_hash
    assert (await login(client, user.email, "old-params-password")).status_code == 200


async def test_deactivated_users_cannot_sign_in(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await create_user(db, is_active=False)
    failed = await login(client, user.email, DEFAULT_PASSWORD)
    assert failed.status_code == 401 and failed.json()["code"] == "invalid_credentials"


async def test_login_events_are_audited(
    client: httpx.AsyncClient, db: AsyncSession, customer: User
) -> None:
    await login(client, customer.email, "not-the-password-1")
    await login(client, "ghost@example.com", "not-the-password-1")
    await login(client, customer.email, DEFAULT_PASSWORD)
    rows = list(await db.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [r.action for r in rows] == ["auth.login_failed", "auth.login_failed", "auth.login"]
    assert rows[0].entity_id == customer.id and rows[0].diff["reason"] == "wrong_password"
    assert rows[1].entity_id is None and rows[1].diff["email"] == "ghost@example.com"
    assert rows[2].actor_id == customer.id and rows[2].ip and rows[2].user_agent
    assert all("not-the-password" not in str(r.diff) for r in rows)


async def test_registered_users_hold_the_customer_role(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await register(client)
    assert [r.role for r in await db.scalars(select(UserRole))] == ["customer"]


async def test_tokens_signed_with_another_key_are_refused(
    client: httpx.AsyncClient, app: FastAPI, customer: User
) -> None:
    headers = await auth_headers(app, customer)
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 200
    forged = headers["Authorization"][:-4] + "AAAA"
    answer = await client.get(f"{API}/me", headers={"Authorization": forged})
    assert answer.status_code == 401
