"""GET and HEAD read in autocommit (no BEGIN/COMMIT) and refuse writes; other methods keep the
unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import func, insert, select

from loumo.core.db import SessionDep
from loumo.core.settings import Settings
from loumo.jobs.models import Job
from loumo.main import create_app


def _probe_router() -> APIRouter:
    router = APIRouter(prefix="/_reads")

    @router.get("/count")
    async def count(session: SessionDep) -> dict[str, object]:
        return {"count": await session.scalar(select(func.count()).select_from(Job))}

    @router.api_route("/orm-write", methods=["GET", "POST"])
    async def orm_write(session: SessionDep) -> dict[str, str]:
        session.add(Job(name="reads.orm"))
        await session.flush()
        return {"status": "written"}

    @router.api_route("/core-write", methods=["GET", "POST"])
    async def core_write(session: SessionDep) -> dict[str, str]:
        await session.execute(insert(Job).values(id="x" * 32, name="reads.core", payload={}))
        return {"status": "written"}

    return router


@pytest.fixture(scope="module")
async def probe_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    application.include_router(_probe_router())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def probe(probe_app: FastAPI, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=probe_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _jobs(probe_app: FastAPI, prefix: str) -> int:
    async with probe_app.state.db.sessionmaker() as session:
        query = select(func.count()).select_from(Job).where(Job.name.startswith(prefix))
        return int(await session.scalar(query) or 0)


async def test_get_reads_without_a_transaction(probe: httpx.AsyncClient) -> None:
    resp = await probe.get("/_reads/count")
    assert resp.status_code == 200
    assert resp.json()["count"] == 0


@pytest.mark.parametrize("path", ["/_reads/orm-write", "/_reads/core-write"])
async def test_a_write_in_a_get_is_refused_and_nothing_is_written(
    probe: httpx.AsyncClient, probe_app: FastAPI, path: str
) -> None:
    resp = await probe.get(path)
    assert resp.status_code == 500
    assert resp.json()["code"] == "internal_error"
    assert await _jobs(probe_app, "reads.") == 0


async def test_the_same_writes_commit_under_post(
    probe: httpx.AsyncClient, probe_app: FastAPI
) -> None:
    assert (await probe.post("/_reads/orm-write")).status_code == 200
    assert (await probe.post("/_reads/core-write")).status_code == 200
    assert await _jobs(probe_app, "reads.") == 2
