"""Jobs of the accounts package: mail carrying a one-time code, and the periodic purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts import sessions
from loumo.accounts.codes import CODE_MAIL_JOB, MAX_CODE_ATTEMPTS, derive_secrets
from loumo.accounts.mail import CODE_TEMPLATES, code_message
from loumo.accounts.models import OneTimeCode, User
from loumo.core.db import as_utc, utcnow
from loumo.core.settings import resolve_secret_key
from loumo.jobs.context import current_job
from loumo.jobs.registry import PermanentJobError, job, periodic
from loumo.notifications.email import deliver

logger = structlog.get_logger("loumo.accounts")

PURGE_JOB = "accounts.purge"


@job(CODE_MAIL_JOB)
async def send_code_mail(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Send the mail of a one-time code, deriving its code and link now (payload:
    `{"code_id", "template"}`); a code already used, retired, locked or expired is not sent."""
    ctx = current_job()
    code_id, template = payload.get("code_id"), payload.get("template")
    if not isinstance(code_id, str) or template not in CODE_TEMPLATES:
        raise PermanentJobError("the payload names no code or no known template")
    row = await session.get(OneTimeCode, code_id)
    user = await session.get(User, row.user_id) if row else None
    live = (
        row is not None
        and row.used_at is None
        and row.attempts < MAX_CODE_ATTEMPTS
        and as_utc(row.expires_at) > utcnow()
    )
    if row is None or user is None or not user.is_active or not live:
        logger.info("code_mail_skipped", code_id=code_id, reason="the code is no longer live")
        return
    code, token = derive_secrets(resolve_secret_key(ctx.settings), row.id)
    try:
        message = code_message(
            user, template, code=code, token=token, public_base_url=ctx.settings.public_base_url
        )
    except ValidationError as exc:  # the stored address or name: never the code's text
        raise PermanentJobError(f"cannot build the message: {exc.errors()[0]['msg']}") from None
    await deliver(message, ctx.settings, message_key=f"job.{ctx.job_id}")


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
