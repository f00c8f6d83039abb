"""Factories and auth helpers shared by every domain's tests: the one place test data is made.

- Rows: `create_x(session, **overrides)` adds a valid row (overrides win) and commits it
  (`create_user`, `create_zone`).
- Through the API: `make_x(client, headers, ...)` creates what needs the service's derived
  fields (slugs, category paths, search text, prices) with a real request and returns its JSON
  (`make_zone`, `make_shop`, `make_category`, `make_product`, `upload_image`); the caller's
  headers carry the permissions (see `auth_headers` in tests/conftest.py).
- Callers: `auth_headers(app, user)` opens a session for a user directly (fast);
  `login_headers(client, user)` signs in over HTTP (real password check).
- Sample files (image bytes) are in `tests/images.py`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Select, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import AuthSession, User, UserRole
from loumo.core import security
from loumo.core.db import Database, utcnow
from loumo.core.ids import new_id
from loumo.core.reads import ReadConnection
from loumo.jobs.models import Job
from loumo.zones.models import Zone
from tests.images import png_bytes

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


# --- through the API -------------------------------------------------------------------------


async def make_zone(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"name": f"Zone {time.monotonic_ns()}", "delivery_fee": 1000, **overrides}
    response = await client.post("/api/v1/zones", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_shop(
    client: Any, headers: dict[str, str], zone_id: str, **overrides: Any
) -> dict[str, Any]:
    body = {"name": f"Shop {time.monotonic_ns()}", "zone_id": zone_id, **overrides}
    response = await client.post("/api/v1/shops", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_category(
    client: Any, headers: dict[str, str], name: str, parent_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    body = {"name": name, "parent_id": parent_id, **overrides}
    response = await client.post("/api/v1/categories", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_product(
    client: Any,
    headers: dict[str, str],
    category_id: str,
    *,
    name_fr: str,
    name_en: str | None = None,
    prices: Sequence[int] = (1000,),
    **overrides: Any,
) -> dict[str, Any]:
    tag = time.monotonic_ns()
    body = {
        "reference": f"REF-{tag}",
        "name_fr": name_fr,
        "name_en": name_en or name_fr,
        "category_id": category_id,
        "slug": f"p-{tag}",
        "variants": [
            {"name": f"V{i}", "sku": f"SKU-{tag}-{i}", "price": p, "unit": "g", "weight": 250}
            for i, p in enumerate(prices)
        ],
        **overrides,
    }
    response = await client.post("/api/v1/products", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def upload_image(
    client: Any, headers: dict[str, str], color: tuple[int, int, int] = (200, 30, 40)
) -> str:
    """Upload a PNG through `POST /media/images`; returns its media key."""
    response = await client.post(
        "/api/v1/media/images",
        files={"file": ("photo.png", png_bytes(color), "image/png")},
        data={"purpose": "product"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


@contextmanager
def count_statements(app: FastAPI) -> Iterator[list[str]]:
    """Collect every SQL statement the app's engine runs inside the block, and those the hot
    reads run on the driver itself (`loumo.core.db.Reader` on PostgreSQL)."""
    statements: list[str] = []
    engine = app.state.db.engine.sync_engine
    native_rows = ReadConnection.rows

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async def rows(
        connection: ReadConnection, stmt: Select[Any], params: Mapping[str, Any]
    ) -> Sequence[Any]:
        if connection.native:
            statements.append(str(stmt))
        return await native_rows(connection, stmt, params)

    event.listen(engine, "before_cursor_execute", record)
    ReadConnection.rows = rows  # type: ignore[method-assign,assignment]
    try:
        yield statements
    finally:
        ReadConnection.rows = native_rows  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", record)
