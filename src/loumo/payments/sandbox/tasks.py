"""The sandbox's callback delivery, a job like any other side effect."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.context import current_job
from loumo.jobs.registry import PermanentJobError, job
from loumo.jobs.runner import sessions_of
from loumo.payments.sandbox.service import CALLBACK_JOB, deliver_callback

logger = structlog.get_logger("loumo.payments.sandbox")


@job(CALLBACK_JOB)
async def send_callback(session: AsyncSession, payload: dict[str, Any]) -> None:
    """`{"kind": "deposit"|"refund", "id"}`: call Loumo's webhook back, signed."""
    kind, reference = payload.get("kind"), payload.get("id")
    if kind not in {"deposit", "refund"} or not isinstance(reference, str):
        raise PermanentJobError(f"{CALLBACK_JOB} needs kind and id, got {payload!r}")
    settings = current_job().settings
    status = await deliver_callback(session, sessions_of(session), settings, kind, reference)
    logger.info("sandbox_callback", kind=kind, reference=reference, status=status)
