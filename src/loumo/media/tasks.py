"""Media jobs: the hourly collection of files that nothing has used for the grace period."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.context import current_job
from loumo.jobs.registry import periodic
from loumo.media.service import COLLECT_BATCH, collect_unreferenced
from loumo.media.storage import build_storage

COLLECT_JOB = "media.collect_unreferenced"
COLLECT_EVERY_SECONDS = 3600


@periodic(COLLECT_JOB, every=COLLECT_EVERY_SECONDS)
async def collect(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Delete unreferenced files in batches until none is left or the run took its share.

    The storage comes from the running process's settings, like the API's. Each batch deletes
    its rows in this job's unit of work; files go as soon as their row is deleted (a failed
    commit leaves rows whose files the next run deletes again, which is harmless).
    """
    storage = build_storage(current_job().settings)
    for _ in range(20):
        if await collect_unreferenced(session, storage) < COLLECT_BATCH:
            break
