"""`Idempotency-Key` over HTTP, on a probe route that writes one audit row per effect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.models import AuditEntry
from loumo.core.auth import CurrentPrincipal
from loumo.core.db import SessionDep, utcnow
from loumo.core.errors import Conflict
from loumo.core.idempotency import (
    IdempotencyKeyHeader,
    IdempotencyRecord,
    idempotent,
    purge_expired,
    request_hash,
)
from loumo.core.policy import policy
from loumo.core.settings import Settings
from loumo.main import create_app
from tests.conftest import AuthHeaders


class Body(BaseModel):
    amount: int


class Probe:
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.gate: asyncio.Event | None = None


def probe_router(probe: Probe) -> APIRouter:
    router = APIRouter(prefix="/probe")

    async def run(
        request: Request,
        session: AsyncSession,
        principal_id: str,
        key: str | None,
        body: Body,
        label: str,
    ) -> Any:
        async def work() -> tuple[int, Any]:
            # Wait before writing: on SQLite a write holds the database lock until commit.
            probe.entered.set()
            if probe.gate is not None:
                await probe.gate.wait()
            session.add(AuditEntry(action="probe", entity_id=label, diff={"amount": body.amount}))
            await session.flush()
            if body.amount < 0:  # -2: refused, but the write is a trace to keep
                raise Conflict("A negative amount is refused", keep_changes=body.amount == -2)
            effects = await session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "probe")
            )
            return 201, {"label": label, "amount": body.amount, "effects": effects}

        return await idempotent(
            request,
            session,
            principal_id=principal_id,
            key=key,
            body=body.model_dump(mode="json"),
            work=work,
        )

    async def endpoint(
        thing_id: str,
        body: Body,
        request: Request,
        session: SessionDep,
        principal: CurrentPrincipal,
        key: IdempotencyKeyHeader = None,
    ) -> Any:
        route = request.scope["route"].path.rsplit("/", 1)[-1]
        return await run(request, session, principal.user_id, key, body, f"{route}:{thing_id}")

    # Two routes (two key scopes) with one endpoint.
    router.add_api_route("/{thing_id}/a", endpoint, methods=["POST"], **policy("authenticated"))
    router.add_api_route("/{thing_id}/b", endpoint, methods=["POST"], **policy("authenticated"))
    return router


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
async def probe_client(
    settings: Settings, app: FastAPI, probe: Probe
) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings)
    application.include_router(probe_router(probe))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def effects(db: AsyncSession) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "probe")
    return int(await db.scalar(query.execution_options(populate_existing=True)) or 0)


async def test_same_key_and_body_replays_the_first_answer(
    probe_client: httpx.AsyncClient, auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    headers = {**await auth_headers("idem0000000000000000000000000001"), "Idempotency-Key": "k1"}
    first = await probe_client.post("/probe/x/a", json={"amount": 5}, headers=headers)
    again = await probe_client.post("/probe/x/a", json={"amount": 5}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() == {"label": "a:x", "amount": 5, "effects": 1}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert await effects(db) == 1


async def test_same_key_with_another_body_is_422_and_changes_nothing(
    probe_client: httpx.AsyncClient, auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    headers = {**await auth_headers("idem0000000000000000000000000002"), "Idempotency-Key": "k2"}
    assert (await probe_client.post("/probe/x/a", json={"amount": 5}, headers=headers)).is_success
    other = await probe_client.post("/probe/x/a", json={"amount": 6}, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await effects(db) == 1


async def test_a_missing_key_is_400(
    probe_client: httpx.AsyncClient, auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    headers = await auth_headers("idem0000000000000000000000000003")
    response = await probe_client.post("/probe/x/a", json={"amount": 5}, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    blank = await probe_client.post(
        "/probe/x/a", json={"amount": 5}, headers={**headers, "Idempotency-Key": "  "}
    )
    assert blank.status_code == 400
    assert await effects(db) == 0


async def test_a_key_still_running_is_409(
    probe_client: httpx.AsyncClient, auth_headers: AuthHeaders, db: AsyncSession, probe: Probe
) -> None:
    headers = {**await auth_headers("idem0000000000000000000000000004"), "Idempotency-Key": "k4"}
    probe.gate = asyncio.Event()
    first = asyncio.create_task(
        probe_client.post("/probe/x/a", json={"amount": 5}, headers=headers)
    )
    await probe.entered.wait()
    during = await probe_client.post("/probe/x/a", json={"amount": 5}, headers=headers)
    probe.gate.set()
    done = await first
    assert during.status_code == 409
    assert during.json()["code"] == "idempotency_key_in_flight"
    assert done.status_code == 201
    after = await probe_client.post("/probe/x/a", json={"amount": 5}, headers=headers)
    assert after.json() == done.json()
    assert await effects(db) == 1


async def test_keys_are_scoped_to_the_caller_and_the_route(
    probe_client: httpx.AsyncClient, auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    alice = {**await auth_headers("idem0000000000000000000000000005"), "Idempotency-Key": "k5"}
    bob = {**await auth_headers("idem0000000000000000000000000006"), "Idempotency-Key": "k5"}
    assert (await probe_client.post("/probe/x/a", json={"amount": 1}, headers=alice)).is_success
    # The same key by someone else, or on another route, is another operation.
    by_bob = await probe_client.post("/probe/x/a", json={"amount": 2}, headers=bob)
    other_route = await probe_client.post("/probe/x/b", json={"amount": 3}, headers=alice)
    assert by_bob.status_code == other_route.status_code == 201
    assert by_bob.json()["amount"] == 2
    assert other_route.json()["label"] == "b:x"
    # The route is its template: another id in the URL is the same route, so a replay.
    same_route = await probe_client.post("/probe/y/a", json={"amount": 1}, headers=alice)
    assert same_route.json()["label"] == "a:x"
    assert await effects(db) == 3


async def test_a_failed_request_frees_its_key(
    probe_client: httpx.AsyncClient, auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    headers = {**await auth_headers("idem0000000000000000000000000007"), "Idempotency-Key": "k7"}
    refused = await probe_client.post("/probe/x/a", json={"amount": -1}, headers=headers)
    assert refused.status_code == 409
    assert await effects(db) == 0  # the work's write was rolled back
    assert await db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    retried = await probe_client.post("/probe/x/a", json={"amount": -1}, headers=headers)
    assert retried.status_code == 409
    assert retried.json()["code"] == "conflict"


async def test_an_error_that_keeps_changes_commits_the_work_and_frees_the_key(
    probe_client: httpx.AsyncClient, auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    headers = {**await auth_headers("idem0000000000000000000000000010"), "Idempotency-Key": "k10"}
    refused = await probe_client.post("/probe/x/a", json={"amount": -2}, headers=headers)
    assert refused.status_code == 409
    assert "Idempotent-Replayed" not in refused.headers
    assert await effects(db) == 1  # the work's write was kept
    assert await db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    retried = await probe_client.post("/probe/x/a", json={"amount": -2}, headers=headers)
    assert retried.status_code == 409  # the key was free: the work ran again, not a replay
    assert "Idempotent-Replayed" not in retried.headers
    assert await effects(db) == 2
    assert await db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


async def test_expired_keys_start_over_and_are_purged(
    probe_client: httpx.AsyncClient, auth_headers: AuthHeaders, db: AsyncSession
) -> None:
    headers = {**await auth_headers("idem0000000000000000000000000008"), "Idempotency-Key": "k8"}
    assert (await probe_client.post("/probe/x/a", json={"amount": 5}, headers=headers)).is_success
    assert await purge_expired(db) == 0
    later = utcnow() + timedelta(days=2)
    assert await purge_expired(db, now=later) == 1
    await db.commit()
    again = await probe_client.post("/probe/x/a", json={"amount": 6}, headers=headers)
    assert again.status_code == 201
    assert again.json()["effects"] == 2


@pytest.mark.parametrize(
    ("lease", "age", "taken_over"), [(60, 30, False), (60, 61, True), (5, 10, True)]
)
async def test_a_key_left_running_by_a_dead_request_is_taken_over_after_the_lease(
    settings: Settings,
    app: FastAPI,
    probe: Probe,
    auth_headers: AuthHeaders,
    db: AsyncSession,
    lease: int,
    age: int,
    taken_over: bool,
) -> None:
    """A process killed mid-request leaves its key `running`: a retry gets 409 until the row is
    older than IDEMPOTENCY_RUNNING_LEASE_SECONDS, then runs the work (once)."""
    user = f"idem00000000000000000000000{lease:02d}{age:03d}"
    headers = {**await auth_headers(user), "Idempotency-Key": "k-dead"}
    db.add(
        IdempotencyRecord(
            principal_id=user,
            route="POST /probe/{thing_id}/a",
            key="k-dead",
            request_hash=request_hash({"amount": 5}),
            created_at=utcnow() - timedelta(seconds=age),
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    await db.commit()
    application = create_app(
        settings.model_copy(update={"idempotency_running_lease_seconds": lease})
    )
    application.include_router(probe_router(probe))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            retried = await c.post("/probe/x/a", json={"amount": 5}, headers=headers)
            again = await c.post("/probe/x/a", json={"amount": 5}, headers=headers)
    if taken_over:
        assert retried.status_code == 201, retried.text
        assert again.json() == retried.json()
        assert await effects(db) == 1
    else:
        assert retried.status_code == again.status_code == 409
        assert retried.json()["code"] == "idempotency_key_in_flight"
        assert await effects(db) == 0
