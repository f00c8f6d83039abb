"""Fixtures: a fresh database per test run, the real app over ASGI, and clean tables per test.

`DATABASE_URL` chooses the engine: unset means a temporary SQLite file; a PostgreSQL URL means a
fresh database created next to the one named, and dropped at the end of the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Role, RolePermission, User, UserRole
from loumo.core.db import Database
from loumo.core.migrations import upgrade_async
from loumo.core.settings import Settings
from loumo.main import create_app
from loumo.models import metadata
from loumo.shops.models import shop_managers
from ops.loopback import free_port as pick_free_port
from tests.factories import auth_headers as factory_auth_headers
from tests.factories import create_user

# How long a test waits for a process it started (a server, a worker) or for work one does. It
# bounds a hang and times nothing, and the waits also stop early when the process dies: so it is
# generous, because a loaded two-core machine (`-n 4`, or several suites at once) was seen taking
# 40 s to import the app and over 120 s to start two servers.
PROCESS_DEADLINE = 300.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fault tests bring their own servers whatever DATABASE_URL says: one pass runs them (the
    SQLite one), the PostgreSQL pass skips them."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="fault tests run once, in the SQLite pass")
    for item in items:
        # The marker itself: `item.keywords` also holds the names of the folders above the test
        # (a checkout in a folder named "faults" would skip everything).
        if item.get_closest_marker("faults") is not None:
            item.add_marker(skip)


LOG_TAIL_LINES = 80


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test that started processes shows the end of their logs (`*.log` in its
    `tmp_path`: servers, workers), which pytest's temporary folders do not keep for long."""
    report = yield
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and isinstance(tmp_path, Path) and tmp_path.is_dir():
        for log in sorted(tmp_path.glob("**/*.log"))[:6]:
            lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            report.sections.append((f"log {log.relative_to(tmp_path)}", "\n".join(lines)))
    return report


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loumo")


@asynccontextmanager
async def empty_database(directory: Path) -> AsyncIterator[str]:
    """A new, empty database of the engine `DATABASE_URL` names, dropped (PostgreSQL) on exit."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{directory / f'{uuid.uuid4().hex[:12]}.db'}"
        return
    name = f"loumo_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_pg_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_pg_dsn(base))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def database_url(tmp_root: Path) -> AsyncIterator[str]:
    async with empty_database(tmp_root) as url:
        await upgrade_async(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_root: Path) -> Settings:
    return make_settings(database_url, tmp_root)


def make_settings(database_url: str, tmp_root: Path, **overrides: object) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        "var_dir": tmp_root / "var",
        "mail_dir": tmp_root / "mail",
        "media_root": tmp_root / "media",
        "redis_url": None,
        "broker_url": None,
        "jobs_in_process": False,  # tests run jobs with loumo.jobs.runner.run_pending()
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def db(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session on the app's database, for arranging and checking state in tests."""
    database: Database = app.state.db
    async with database.sessionmaker() as session:
        yield session


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Empty every table after each test that touched the app, so tests never share rows."""
    yield
    if "app" not in request.fixturenames:
        return
    application: FastAPI = request.getfixturevalue("app")
    database: Database = application.state.db
    async with database.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))
    await application.state.rate_limiter.reset()


@pytest.fixture
def free_port() -> int:
    return pick_free_port()


@pytest.fixture
async def customer(db: AsyncSession) -> User:
    return await create_user(db, "customer")


@pytest.fixture
async def other_customer(db: AsyncSession) -> User:
    return await create_user(db, "customer")


@pytest.fixture
async def admin(db: AsyncSession) -> User:
    return await create_user(db, "admin")


@pytest.fixture
async def support(db: AsyncSession) -> User:
    return await create_user(db, "support")


@pytest.fixture
async def shop_manager(db: AsyncSession) -> User:
    return await create_user(db, "shop_manager")


@pytest.fixture
async def delivery_agent(db: AsyncSession) -> User:
    return await create_user(db, "delivery_agent")


AuthHeaders = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def auth_headers(app: FastAPI, db: AsyncSession) -> AuthHeaders:
    """`await auth_headers(user_id, permissions=[...], shops=[...])` -> bearer headers.

    The caller is a real, verified customer with that id, created on first use; `permissions`
    come through a custom role made for them, `shops` make them a manager of those shops.
    """
    made: dict[str, dict[str, str]] = {}

    async def make(
        user_id: str, permissions: Sequence[str] = (), shops: Sequence[str] = ()
    ) -> dict[str, str]:
        if user_id in made:
            return made[user_id]
        user = await db.get(User, user_id) or await create_user(db, id=user_id)
        if permissions:
            role = f"test-{user_id}"
            db.add(Role(name=role, description="test role"))
            await db.flush()
            db.add_all(RolePermission(role_name=role, permission=p) for p in permissions)
            db.add(UserRole(user_id=user.id, role=role))
        if shops:
            await db.execute(
                insert(shop_managers), [{"shop_id": s, "user_id": user.id} for s in shops]
            )
        await db.commit()
        made[user_id] = await factory_auth_headers(app, user)
        return made[user_id]

    return make


CATALOG_STAFF = ("zones:write", "categories:write", "products:write", "shops:write", "stock:write")


@pytest.fixture
async def staff(auth_headers: AuthHeaders) -> dict[str, str]:
    """Headers of a staff member who runs zones, the catalog, shops and stock."""
    return await auth_headers("staff000000000000000000000000001", permissions=CATALOG_STAFF)
