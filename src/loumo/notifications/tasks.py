"""Jobs of the notifications package."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.context import current_job
from loumo.jobs.registry import PermanentJobError, job
from loumo.notifications.email import EMAIL_JOB, EmailJobPayload, deliver


@job(EMAIL_JOB)
async def send_email_job(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Render and send one message; the Message-ID comes from the job id, so retries share it."""
    ctx = current_job()
    try:
        message = EmailJobPayload.model_validate(payload)
    except ValidationError as exc:
        raise PermanentJobError(f"cannot build the message: {exc}") from exc
    await deliver(message, ctx.settings, message_key=f"job.{ctx.job_id}")
