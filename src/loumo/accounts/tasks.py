"""Jobs of the accounts package, and the recipient directory it gives to notifications.

Importing this module (every API and worker process does: it is in `loumo.tasks.TASK_MODULES`)
registers how user ids and permissions become notification recipients, so that jobs of the
packages below accounts (shops' low-stock alerts) can reach people without importing accounts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts import sessions
from loumo.accounts.directory import holders_of, recipients_for
from loumo.jobs.context import current_job
from loumo.jobs.registry import periodic
from loumo.notifications.recipients import register_recipient_resolver

logger = structlog.get_logger("loumo.accounts")

PURGE_JOB = "accounts.purge"

register_recipient_resolver(recipients_for, holders_of)


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
