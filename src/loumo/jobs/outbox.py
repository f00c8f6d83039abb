"""Deferring work: a service records a job in its own transaction; it runs after commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from loumo.core.db import utcnow
from loumo.core.writes import insert_new
from loumo.jobs.metrics import JOBS_ENQUEUED
from loumo.jobs.models import Job

_PENDING_KEY = "loumo_deferred_jobs"
_commit_listeners: list[Callable[[], None]] = []


async def defer(
    session: AsyncSession,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> Job:
    """Record job `name` with a JSON payload; it exists if and only if the caller commits."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    job = Job(
        name=name,
        payload=payload or {},
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
        request_id=request_id,
    )
    await session.flush()  # what the caller added is written first (its rows may be named)
    await insert_new(session, [job])
    session.sync_session.info.setdefault(_PENDING_KEY, []).append(name)
    return job


def add_commit_listener(callback: Callable[[], None]) -> None:
    """Call `callback` (thread-safe, non-blocking) after any commit that deferred jobs."""
    _commit_listeners.append(callback)


def remove_commit_listener(callback: Callable[[], None]) -> None:
    if callback in _commit_listeners:
        _commit_listeners.remove(callback)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    names: list[str] | None = session.info.pop(_PENDING_KEY, None)
    if not names:
        return
    for name in names:
        JOBS_ENQUEUED.labels(name).inc()
    for callback in list(_commit_listeners):
        callback()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
