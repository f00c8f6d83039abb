"""Operating the job system: list jobs and retry dead ones (`loumo jobs list|retry`)."""

from __future__ import annotations

from sqlalchemy import select, update

from loumo.core.db import utcnow
from loumo.core.once import rowcount
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.runner import Sessions


async def list_jobs(
    sessions: Sessions, *, status: str | None = None, name: str | None = None, limit: int = 50
) -> list[Job]:
    """Newest first."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    if name:
        query = query.where(Job.name == name)
    async with sessions() as session:
        return list(await session.scalars(query))


async def retry_jobs(
    sessions: Sessions, *, job_id: str | None = None, all_dead: bool = False
) -> int:
    """Give dead jobs a fresh set of attempts, due now; returns how many were reset."""
    if (job_id is None) == (not all_dead):
        raise ValueError("give a job id or all_dead=True")
    now = utcnow()
    query = update(Job).where(Job.status == JobStatus.DEAD)
    if job_id is not None:
        query = query.where(Job.id == job_id)
    async with sessions() as session:
        result = await session.execute(
            query.values(
                status=JobStatus.PENDING,
                attempts=0,
                run_at=now,
                locked_until=None,
                finished_at=None,
                updated_at=now,
            ).execution_options(synchronize_session=False)
        )
        await session.commit()
    return rowcount(result)
