"""`Idempotency-Key`: a retried POST that moves money gets the first answer, never a second effect.

A route that honours the header hands its work to `idempotent(...)` before it writes anything.
The key is scoped to the caller and the route (method + path template). The first request
inserts a `running` row and commits it at once (the request's session has written nothing yet;
using it rather than a second connection keeps one pooled connection per request), so that a
concurrent retry sees it (409); the work then runs in the request's unit of work, and the answer
is stored in that same unit of work, so the answer exists if and only if the work committed. A
request that fails frees its key for a retry; its work is rolled back, unless the error keeps its
changes (`AppError.keep_changes`: a wrong code counted), which then commit with the key freed.
Rules (DESIGN.md, after the IETF idempotency-key draft): no header → 400; same key and body →
the stored answer; same key, other body → 422; still running → 409.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    DateTime,
    String,
    UniqueConstraint,
    bindparam,
    delete,
    null,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.auth import Principal
from loumo.core.db import Base, SessionDep, autocommit, insert_in, table_of, utcnow
from loumo.core.errors import AppError, BadRequest, Conflict
from loumo.core.ids import new_id
from loumo.core.settings import Settings
from loumo.core.writes import write, writes_together

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
DEFAULT_TTL = timedelta(hours=24)
# A `running` row older than IDEMPOTENCY_RUNNING_LEASE_SECONDS (a setting, 60 by default) belongs
# to a request that died (process killed, commit lost): the next request with the key takes it
# over instead of answering 409 until the key expires.

RUNNING = "running"
DONE = "done"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="A unique key per operation (e.g. a UUID); a retry with the same key and "
        "body gets the first answer instead of a second effect. Required.",
    ),
]


class IdempotencyRecord(Base):
    """One key of one caller on one route: its body fingerprint and, once done, its answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal_id", "route", "key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    principal_id: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=RUNNING)
    response_status: Mapped[int | None] = mapped_column(default=None)
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class IdempotencyKeyRequired(BadRequest):
    code, title = "idempotency_key_required", "Idempotency-Key required"


class IdempotencyKeyReused(AppError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key reused"


class IdempotencyKeyInFlight(Conflict):
    code, title = "idempotency_key_in_flight", "Request with this Idempotency-Key in progress"


def request_hash(body: Any) -> str:
    """The fingerprint of a request body: SHA-256 of its canonical JSON (sorted keys)."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def route_of(request: Request) -> str:
    """`METHOD /path/{template}`: the key's scope, whatever the ids in the URL."""
    route = request.scope.get("route")
    template = getattr(route, "path", None) or request.url.path
    return f"{request.method} {template}"


def _replay(record: IdempotencyRecord) -> JSONResponse:
    return JSONResponse(
        record.response_body,
        status_code=record.response_status or 200,
        headers={REPLAYED_HEADER: "true"},
    )


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """The claim, built once per dialect (every idempotent request runs it), values bound at
    each call. One statement: a new key is inserted, an expired one (whatever its state) starts
    over in place; a live one is left alone and returns no row."""
    table = table_of(IdempotencyRecord)
    insert = insert_in(dialect, table)
    now = bindparam("c_now", type_=table.c.created_at.type)
    fresh = {
        "request_hash": bindparam("c_hash", type_=table.c.request_hash.type),
        "status": RUNNING,
        "created_at": now,
        "expires_at": bindparam("c_expires", type_=table.c.expires_at.type),
    }
    return (
        insert.values(
            id=bindparam("c_id", type_=table.c.id.type),
            principal_id=bindparam("c_principal", type_=table.c.principal_id.type),
            route=bindparam("c_route", type_=table.c.route.type),
            key=bindparam("c_key", type_=table.c.key.type),
            **fresh,
        )
        .on_conflict_do_update(
            index_elements=["principal_id", "route", "key"],
            set_={
                **{name: insert.excluded[name] for name in fresh},
                "response_status": null(),
                "response_body": null(),
            },
            where=table.c.expires_at <= now,
        )
        .returning(table.c.id)
    )


async def _claim(
    claim: AsyncSession,
    *,
    principal_id: str,
    route: str,
    key: str,
    fingerprint: str,
    ttl: timedelta,
    running_lease: timedelta,
) -> IdempotencyRecord | str:
    """Take the key (committed at once): the new row's id, or the finished row to replay."""
    await autocommit(claim)  # each statement below commits at once
    now = utcnow()
    claimed = await claim.scalar(
        _claim_statement(claim.get_bind().dialect.name),
        {
            "c_id": new_id(),
            "c_principal": principal_id,
            "c_route": route,
            "c_key": key,
            "c_hash": fingerprint,
            "c_now": now,
            "c_expires": now + ttl,
        },
    )
    if claimed is not None:
        await claim.commit()
        return str(claimed)
    existing = await claim.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal_id == principal_id,
            IdempotencyRecord.route == route,
            IdempotencyRecord.key == key,
        )
    )
    if existing is None:  # deleted between the two statements: the caller may retry
        await claim.commit()
        raise IdempotencyKeyInFlight("Retry this request")
    if existing.request_hash != fingerprint:
        await claim.commit()
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with another request body; use a new key"
        )
    if existing.status == DONE:
        await claim.commit()
        return existing
    # Still running: take it over only if its request is long dead.
    taken = await claim.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == existing.id,
            IdempotencyRecord.status == RUNNING,
            IdempotencyRecord.created_at <= now - running_lease,
        )
        .values(created_at=now)
        .execution_options(synchronize_session=False)
    )
    await claim.commit()
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return existing.id
    raise IdempotencyKeyInFlight(
        "A request with this Idempotency-Key is still being processed; retry later"
    )


async def _forget(session: AsyncSession, row_id: str) -> None:
    """The work failed: roll it back and free the key, so that a retry runs it again."""
    await session.rollback()
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == row_id, IdempotencyRecord.status == RUNNING
        )
    )
    await session.commit()


async def _keep(session: AsyncSession, row_id: str) -> None:
    """The work failed with an error that keeps its changes (`AppError.keep_changes`): commit
    them and free the key in one commit, so that the trace stays and a retry runs again."""
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == row_id, IdempotencyRecord.status == RUNNING
        )
    )
    await session.commit()


Work = Callable[[], Awaitable[tuple[int, Any]]]

# Built once (every idempotent request stores its answer): the values go as parameters.
# On the table, not the entity: no ORM bulk-update bookkeeping for a row the session never loads.
_STORE = (
    update(table_of(IdempotencyRecord))
    .where(table_of(IdempotencyRecord).c.id == bindparam("s_id"))
    .values(
        status=DONE,
        response_status=bindparam("s_status", type_=IdempotencyRecord.response_status.type),
        response_body=bindparam("s_body", type_=IdempotencyRecord.response_body.type),
    )
)


async def idempotent(
    request: Request,
    session: AsyncSession,
    *,
    principal_id: str,
    key: str | None,
    body: Any,
    work: Work,
    then: Callable[[], Awaitable[None]] | None = None,
    ttl: timedelta = DEFAULT_TTL,
    together: bool = False,
) -> JSONResponse:
    """Run `work()` (it returns `(status, json_body)`) once per key; replay its answer after.

    `session` is the request's unit of work, with nothing written yet: the claim is committed
    in it first, then the answer is stored in it, so it commits with the work. On an error the
    work is rolled back and the key freed (a retry may succeed); the error propagates. An
    `AppError` with `keep_changes` commits the work's changes instead, with the key freed.
    `then()` runs after the answer is stored, in the same unit of work (an error there fails
    the whole, as one in `work`): the statements on rows that concurrent requests wait for go
    there, so that they are held for the fewest round trips before the commit.
    `together`: the work's gathered writes (`core.writes.insert_new` and `write`) and its
    stored answer go to the database in one round trip when the work returns
    (`core.writes.writes_together`; on PostgreSQL one statement, atomic without a transaction,
    so a work that runs in autocommit needs no BEGIN and COMMIT for them).
    """
    if key is None or not key.strip():
        raise IdempotencyKeyRequired(f"This endpoint needs an {HEADER} header (e.g. a UUID)")
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH:
        raise BadRequest(f"{HEADER} is at most {MAX_KEY_LENGTH} characters")
    settings: Settings = request.app.state.settings
    claimed = await _claim(
        session,
        principal_id=principal_id,
        route=route_of(request),
        key=key,
        fingerprint=request_hash(body),
        ttl=ttl,
        running_lease=timedelta(seconds=settings.idempotency_running_lease_seconds),
    )
    if isinstance(claimed, IdempotencyRecord):
        return _replay(claimed)
    try:
        async with writes_together(session) if together else contextlib.nullcontext():
            status, answer = await work()
            await write(session, _STORE, {"s_id": claimed, "s_status": status, "s_body": answer})
        if then is not None:
            await then()
        await session.flush()
    except AppError as error:
        if not error.keep_changes:
            await _forget(session, claimed)
            raise
        try:
            await _keep(session, claimed)
        except Exception:
            await _forget(session, claimed)
            raise
        raise
    except Exception:
        await _forget(session, claimed)
        raise
    return JSONResponse(answer, status_code=status)


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete the keys past their expiry (a periodic job calls this); returns how many."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= (now or utcnow()))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class Once:
    """A money-moving route's way to act once per `Idempotency-Key` (a dependency, `OnceDep`):
    `await once(principal, data, produce=..., answer=ReadSchema, status=201)` runs `produce()`
    once for the key, the caller and what the request names (its path ids and `data`), and
    answers the stored answer to a retry (see `idempotent`)."""

    def __init__(
        self, request: Request, session: SessionDep, key: IdempotencyKeyHeader = None
    ) -> None:
        self.request = request
        self.session = session
        self.key = key

    async def __call__(
        self,
        principal: Principal,
        data: BaseModel,
        *,
        produce: Callable[[], Awaitable[object]],
        answer: type[BaseModel],
        status: int = 200,
    ) -> JSONResponse:
        async def work() -> tuple[int, Any]:
            return status, answer.model_validate(await produce()).model_dump(mode="json")

        return await idempotent(
            self.request,
            self.session,
            principal_id=principal.user_id,
            key=self.key,
            body={**self.request.path_params, **data.model_dump(mode="json")},
            work=work,
        )


OnceDep = Annotated[Once, Depends()]
