"""Factories and auth helpers shared by every domain's tests.

`create_user(session, role=...)` commits a verified, active user whose password is
`user.password`; `auth_headers(app, user)` opens a session for them directly (fast);
`login_headers(client, user)` signs in over HTTP (real password check).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import AuthSession, User, UserRole
from loumo.core import security
from loumo.core.db import Database, utcnow
from loumo.core.ids import new_id
from loumo.jobs.models import Job
from loumo.zones.models import Zone

DEFAULT_PASSWORD = "correct-horse-battery-9"


@cache
def default_password_hash() -> str:
    return security.password_hasher.hash(DEFAULT_PASSWORD)


async def create_user(
    session: AsyncSession,
    role: str | None = "customer",
    *,
    roles: list[str] | None = None,
    password: str | None = None,
    **overrides: Any,
) -> User:
    """A verified, active user holding `role` (or `roles`), committed."""
    tag = new_id()[-10:]
    values: dict[str, Any] = {
        "email": f"user-{tag}@example.com",
        "name": f"User {tag}",
        "language": "en",
        "email_verified_at": utcnow(),
        "password_hash": (
            security.password_hasher.hash(password) if password else default_password_hash()
        ),
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    await session.flush()
    held = roles if roles is not None else ([role] if role else [])
    session.add_all(UserRole(user_id=user.id, role=r) for r in held)
    await session.commit()
    user.password = password or DEFAULT_PASSWORD  # type: ignore[attr-defined]
    return user


async def auth_headers(app: FastAPI, user: User) -> dict[str, str]:
    """Bearer headers for `user`, from a session opened directly in the database."""
    database: Database = app.state.db
    async with database.sessionmaker() as session:
        auth = AuthSession(user_id=user.id)
        session.add(auth)
        await session.commit()
    token = security.create_access_token(app.state.secret_key, user.id, auth.id)
    return {"Authorization": f"Bearer {token}"}


async def login_headers(
    client: httpx.AsyncClient, user: User, password: str | None = None
) -> dict[str, str]:
    """Bearer headers from a real `POST /auth/login`."""
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": password or user.password},  # type: ignore[attr-defined]
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def create_zone(session: AsyncSession, **overrides: Any) -> Zone:
    values: dict[str, Any] = {"name": f"Zone {new_id()[-8:]}", "delivery_fee": 500}
    values.update(overrides)
    zone = Zone(**values)
    session.add(zone)
    await session.commit()
    return zone


async def jobs_named(session: AsyncSession, name: str) -> list[Job]:
    query = select(Job).where(Job.name == name).order_by(Job.created_at, Job.id)
    rows = await session.scalars(query.execution_options(populate_existing=True))
    return list(rows.all())


async def count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)
