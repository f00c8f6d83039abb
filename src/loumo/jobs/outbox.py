"""Deferring work: a service records a job in its own transaction; it runs after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.jobs.models import Job


async def defer(
    session: AsyncSession,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    max_attempts: int = 8,
) -> Job:
    """Record job `name` with a JSON payload; it exists if and only if the caller commits."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    job = Job(
        name=name,
        payload=payload or {},
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
        request_id=request_id,
    )
    session.add(job)
    await session.flush()
    return job
