"""Jobs of the notifications package."""

from __future__ import annotations

from typing import Any

import aiosmtplib
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.context import current_job
from loumo.jobs.registry import PermanentJobError, job
from loumo.notifications.email import (
    EMAIL_JOB,
    EmailError,
    EmailJobPayload,
    build_message,
    get_backend,
)


@job(EMAIL_JOB)
async def send_email_job(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Render and send one message; the Message-ID comes from the job id, so retries share it."""
    ctx = current_job()
    try:
        message = build_message(
            EmailJobPayload.model_validate(payload), ctx.settings, message_key=f"job.{ctx.job_id}"
        )
    except (ValidationError, EmailError) as exc:
        raise PermanentJobError(f"cannot build the message: {exc}") from exc
    try:
        await get_backend(ctx.settings).send(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise PermanentJobError(f"the SMTP server refused the recipient: {exc}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentJobError(f"the SMTP server refused the message: {exc}") from exc
        raise
