"""Liveness, readiness (with recovery, in the same process) and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from loumo.core.migrations import alembic_config, head_revisions, upgrade_async
from loumo.core.settings import Settings
from loumo.main import create_app
from tests.conftest import make_settings
from tests.private_services import TcpProxy


async def test_healthz(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


async def test_readyz_ok(client: httpx.AsyncClient) -> None:
    resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["checks"]["database"] == "ok"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/api/v1/missing/42")
    text = (await client.get("/metrics")).text
    assert 'loumo_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "loumo_http_request_duration_seconds_bucket" in text
    assert "loumo_http_requests_in_flight" in text
    assert 'loumo_db_pool_checked_out{engine="primary"}' in text


@contextlib.asynccontextmanager
async def _app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application: FastAPI = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_readyz_waits_for_migrations_then_recovers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    async with _app_client(make_settings(url, tmp_path)) as c:
        resp = await c.get("/readyz")
        assert resp.status_code == 503
        assert resp.json()["failing"] == ["database"]
        assert "migrations not at head" in resp.json()["checks"]["database"]
        await upgrade_async(url)
        assert (await c.get("/readyz")).status_code == 200


async def test_readyz_stays_ready_when_a_later_release_migrated_the_database(
    tmp_path: Path,
) -> None:
    """Zero-downtime deploys run the new release's expand migrations while the old processes
    serve: a revision unknown to this code is ahead of it, not behind (docs/operations.md)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ahead.db'}"
    await upgrade_async(url)
    heads = head_revisions()
    (previous,) = {rev.down_revision for rev in map(_script().get_revision, heads)}
    async with _app_client(make_settings(url, tmp_path)) as c:
        await _stamp(url, "20991231_9999_a_later_release")
        assert (await c.get("/readyz")).status_code == 200
        assert isinstance(previous, str)
        await _stamp(url, previous)  # behind: this code needs a migration not applied yet
        resp = await c.get("/readyz")
        assert resp.status_code == 503
        assert "migrations not at head" in resp.json()["checks"]["database"]


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


async def _stamp(url: str, revision: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        await engine.dispose()


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="needs a networked database (runs in the PostgreSQL pass)",
)
async def test_readyz_names_unreachable_database_and_recovers(
    database_url: str, tmp_path: Path
) -> None:
    real = make_url(database_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    async with _app_client(make_settings(proxied, tmp_path)) as c:
        assert (await c.get("/readyz")).status_code == 200
        await proxy.stop()
        resp = await c.get("/readyz")
        assert resp.status_code == 503
        assert resp.json()["failing"] == ["database"]
        assert resp.json()["checks"]["database"].startswith("error:")
        await proxy.start()
        for _ in range(20):
            resp = await c.get("/readyz")
            if resp.status_code == 200:
                break
            await asyncio.sleep(0.25)
        assert resp.status_code == 200
    await proxy.stop()
