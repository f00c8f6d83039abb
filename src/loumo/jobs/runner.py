"""Running one job: claim it with a lease, run its handler in one unit of work, record the outcome.

Claims are conditional UPDATEs, so any number of processes (API, workers, tests) can race for the
same job and exactly one wins. A claimed job carries a lease (`locked_until`) that a heartbeat
extends while the handler runs; if the runner dies, the lease expires and the job is run again.
The handler's changes and the job's success are committed in the same transaction, so database
effects happen once; other effects rely on the handler being idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import traceback
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from loumo.core.db import Database, utcnow
from loumo.core.once import rowcount
from loumo.core.settings import Settings
from loumo.jobs.context import JobContext, _current
from loumo.jobs.metrics import JOB_DURATION, JOBS_DEAD, JOBS_FAILED, JOBS_RETRIED, JOBS_SUCCEEDED
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.registry import PermanentJobError, get_handler

logger = structlog.get_logger("loumo.jobs")
MAX_ERROR_CHARS = 4000

Sessions = async_sessionmaker[AsyncSession]
_default_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """Set the settings handlers see when a caller (e.g. a test) does not pass them."""
    global _default_settings
    _default_settings = settings


def sessions_of(target: Database | AsyncSession | Sessions) -> Sessions:
    """A session factory on the same database as `target`."""
    if isinstance(target, Database):
        return target.sessionmaker
    if isinstance(target, AsyncSession):
        bind = target.bind
        return async_sessionmaker(bind, expire_on_commit=False)
    return target


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    DEAD = "dead"
    SKIPPED = "skipped"  # another runner holds it, or it is not due
    LEASE_LOST = "lease_lost"


def claimable(now: datetime) -> ColumnElement[bool]:
    """A job a runner may take: pending and due, or running on an expired lease."""
    return or_(
        and_(Job.status == JobStatus.PENDING, Job.run_at <= now),
        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
    )


def due(now: datetime) -> ColumnElement[bool]:
    """A job to hand out now: claimable, unless it is pending and already handed to the
    broker (its relay lease, `locked_until`, not yet expired)."""
    return or_(
        and_(
            Job.status == JobStatus.PENDING,
            Job.run_at <= now,
            or_(Job.locked_until.is_(None), Job.locked_until < now),
        ),
        and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
    )


def retry_delay(attempt: int, settings: Settings) -> float:
    """Exponential backoff with full jitter between half and all of the step."""
    exponential: float = settings.jobs_retry_base_seconds * 2.0 ** max(0, attempt - 1)
    step = min(settings.jobs_retry_max_seconds, exponential)
    jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not security)
    return step * jitter


async def _claim(sessions: Sessions, job_id: str, settings: Settings) -> Job | None:
    now = utcnow()
    lease = now + timedelta(seconds=settings.jobs_lease_seconds)
    async with sessions() as session:
        result = await session.execute(
            update(Job)
            .where(Job.id == job_id, claimable(now))
            .values(
                status=JobStatus.RUNNING,
                attempts=Job.attempts + 1,
                locked_until=lease,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            await session.rollback()
            return None
        job = await session.get(Job, job_id)
        await session.commit()
    return job


async def _heartbeat(sessions: Sessions, job_id: str, attempt: int, settings: Settings) -> None:
    """Extend the lease while the handler runs, so a slow job is not taken by another runner."""
    interval = settings.jobs_lease_seconds / 3
    while True:
        await asyncio.sleep(interval)
        now = utcnow()
        with contextlib.suppress(Exception):
            async with sessions() as session:
                await session.execute(
                    update(Job)
                    .where(
                        Job.id == job_id,
                        Job.status == JobStatus.RUNNING,
                        Job.attempts == attempt,
                    )
                    .values(locked_until=now + timedelta(seconds=settings.jobs_lease_seconds))
                    .execution_options(synchronize_session=False)
                )
                await session.commit()


async def _mark_succeeded(session: AsyncSession, job: Job) -> bool:
    now = utcnow()
    result = await session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.RUNNING, Job.attempts == job.attempts)
        .values(status=JobStatus.SUCCEEDED, locked_until=None, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


async def _mark_failed(
    sessions: Sessions, job: Job, error: str, settings: Settings, *, permanent: bool = False
) -> Outcome:
    now = utcnow()
    dead = permanent or job.attempts >= job.max_attempts
    values: dict[str, object] = {"last_error": error[-MAX_ERROR_CHARS:], "updated_at": now}
    if dead:
        values |= {"status": JobStatus.DEAD, "locked_until": None, "finished_at": now}
    else:
        delay = retry_delay(job.attempts, settings)
        values |= {
            "status": JobStatus.PENDING,
            "locked_until": None,
            "run_at": now + timedelta(seconds=delay),
        }
    async with sessions() as session:
        result = await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.RUNNING, Job.attempts == job.attempts)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    if rowcount(result) != 1:
        return Outcome.LEASE_LOST
    return Outcome.DEAD if dead else Outcome.RETRY


async def _release(sessions: Sessions, job: Job) -> None:
    """Give back a job whose run was cut short (its process is stopping): due now, for any
    runner, and the cut run not counted as an attempt."""
    now = utcnow()
    async with sessions() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.RUNNING, Job.attempts == job.attempts)
            .values(
                status=JobStatus.PENDING,
                attempts=Job.attempts - 1,
                locked_until=None,
                run_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()


async def run_job(sessions: Sessions, job_id: str, settings: Settings) -> Outcome:
    """Claim and run job `job_id` once; safe to call from any number of processes at once."""
    job = await _claim(sessions, job_id, settings)
    if job is None:
        return Outcome.SKIPPED
    log = logger.bind(
        job_id=job.id, job_name=job.name, attempt=job.attempts, request_id=job.request_id
    )
    if job.attempts > job.max_attempts:
        # Its last runner vanished mid-run: no attempt left to spend.
        outcome = await _mark_failed(
            sessions, job, job.last_error or "the runner stopped during the last attempt", settings
        )
        if outcome is Outcome.DEAD:
            JOBS_DEAD.labels(job.name).inc()
            log.error("job_dead", error="runner lost on the last attempt")
        return outcome
    handler = get_handler(job.name)
    ctx = JobContext(job.id, job.name, job.attempts, job.max_attempts, job.request_id, settings)
    token = _current.set(ctx)
    heartbeat = asyncio.create_task(_heartbeat(sessions, job.id, job.attempts, settings))
    start = time.perf_counter()
    error: str | None = None
    permanent = False
    try:
        with structlog.contextvars.bound_contextvars(
            job_id=job.id, job_name=job.name, request_id=job.request_id
        ):
            log.info("job_started")
            if handler is None:
                raise LookupError(f"no handler is registered for job {job.name!r}")
            async with sessions() as session:
                try:
                    await handler(session, dict(job.payload))
                    if not await _mark_succeeded(session, job):
                        await session.rollback()
                        log.warning("job_lease_lost")
                        return Outcome.LEASE_LOST
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
    except asyncio.CancelledError:
        # Cut short by a stopping process: its handler's changes were rolled back; the job goes
        # back to the table (if that fails too, its lease expires and it runs again).
        log.warning("job_interrupted")
        with contextlib.suppress(Exception):
            await _release(sessions, job)
        raise
    except Exception as exc:
        permanent = isinstance(exc, PermanentJobError)
        error = "".join(traceback.format_exception(exc))
        log.warning("job_failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        _current.reset(token)
    duration = time.perf_counter() - start
    if error is None:
        JOBS_SUCCEEDED.labels(job.name).inc()
        JOB_DURATION.labels(job.name, "succeeded").observe(duration)
        log.info("job_succeeded", duration_ms=round(duration * 1000, 2))
        return Outcome.SUCCEEDED
    JOBS_FAILED.labels(job.name).inc()
    JOB_DURATION.labels(job.name, "failed").observe(duration)
    outcome = await _mark_failed(sessions, job, error, settings, permanent=permanent)
    if outcome is Outcome.RETRY:
        JOBS_RETRIED.labels(job.name).inc()
    elif outcome is Outcome.DEAD:
        JOBS_DEAD.labels(job.name).inc()
        log.error("job_dead", attempts=job.attempts)
    return outcome


async def due_job_ids(
    sessions: Sessions, *, limit: int, exclude: set[str] | None = None
) -> list[str]:
    """Ids of jobs a runner may take now, oldest first."""
    now = utcnow()
    query = select(Job.id).where(due(now))
    if exclude:
        query = query.where(Job.id.not_in(exclude))
    async with sessions() as session:
        rows = await session.scalars(query.order_by(Job.run_at).limit(limit))
        return list(rows)


async def run_pending(
    target: Database | AsyncSession | Sessions,
    settings: Settings | None = None,
    *,
    max_jobs: int = 10_000,
) -> int:
    """Run every due job, including those the handlers defer, until none is due; for tests and
    one-shot use. Returns how many runs happened (failed runs count)."""
    settings = settings or _default_settings
    if settings is None:
        raise RuntimeError("run_pending needs settings (or an app or worker that configured them)")
    sessions = sessions_of(target)
    runs = 0
    while runs < max_jobs:
        ids = await due_job_ids(sessions, limit=100)
        if not ids:
            break
        for job_id in ids:
            if await run_job(sessions, job_id, settings) is not Outcome.SKIPPED:
                runs += 1
    return runs
