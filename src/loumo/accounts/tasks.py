"""Jobs of the accounts package."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts import sessions
from loumo.jobs.context import current_job
from loumo.jobs.registry import periodic

logger = structlog.get_logger("loumo.accounts")

PURGE_JOB = "accounts.purge"


@periodic(PURGE_JOB, every=timedelta(hours=1))
async def purge_auth_records(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Delete sessions, refresh tokens and one-time codes dead for `AUTH_RETENTION_DAYS`."""
    settings = current_job().settings
    counts = await sessions.purge_auth_records(
        session, retention=timedelta(days=settings.auth_retention_days)
    )
    logger.info(
        "auth_records_purged",
        sessions=counts.sessions,
        refresh_tokens=counts.refresh_tokens,
        codes=counts.codes,
    )
