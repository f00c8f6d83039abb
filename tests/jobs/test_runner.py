"""The outbox and the runner: commit-or-nothing, retries, dead jobs, leases, exactly-one claims."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from loumo import cli
from loumo.audit.models import AuditEntry
from loumo.core.db import Database, utcnow
from loumo.core.metrics import REGISTRY
from loumo.core.settings import Settings, get_settings
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.outbox import defer
from loumo.jobs.runner import Outcome, retry_delay, run_job, run_pending, sessions_of
from loumo.jobs.service import list_jobs, retry_jobs


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"jobs_retry_base_seconds": 0.001, "jobs_retry_max_seconds": 0.002}
    )


def metric(name: str, job_name: str) -> float:
    return REGISTRY.get_sample_value(name, {"name": job_name}) or 0.0


def naive(moment: datetime) -> datetime:
    """UTC without tzinfo (SQLite hands datetimes back naive)."""
    return moment.replace(tzinfo=None)


async def rows_for(db: AsyncSession, key: str) -> int:
    value = await db.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_id == key)
    )
    return int(value or 0)


async def reload(db: AsyncSession, job_id: str) -> Job:
    db.expire_all()
    job = await db.get(Job, job_id)
    assert job is not None
    return job


async def run_until_finished(db: AsyncSession, settings: Settings, job_id: str) -> Job:
    for _ in range(200):
        await run_pending(db, settings)
        job = await reload(db, job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.DEAD):
            return job
        await asyncio.sleep(0.005)
    raise AssertionError("the job never finished")


async def test_a_job_exists_only_if_its_transaction_commits(
    db: AsyncSession, settings: Settings
) -> None:
    await defer(db, "test.record", {"key": "rolled-back"})
    await db.rollback()
    job = await defer(db, "test.record", {"key": "committed"})
    await db.commit()

    assert await run_pending(db, settings) == 1
    assert (await reload(db, job.id)).status == JobStatus.SUCCEEDED
    assert await rows_for(db, "committed") == 1
    assert await rows_for(db, "rolled-back") == 0
    assert await db.scalar(select(func.count()).select_from(Job)) == 1


async def test_failed_runs_roll_back_their_changes_and_retry_with_backoff(
    db: AsyncSession, settings: Settings, fast_settings: Settings
) -> None:
    retried = metric("loumo_jobs_retried_total", "test.record")
    job = await defer(db, "test.record", {"key": "flaky", "fail_times": 2})
    await db.commit()

    assert await run_pending(db, settings) == 1  # failed; its retry is not yet due
    failed = await reload(db, job.id)
    assert failed.status == JobStatus.PENDING and failed.attempts == 1
    soonest = utcnow() + timedelta(seconds=settings.jobs_retry_base_seconds / 4)
    assert naive(failed.run_at) >= naive(soonest)
    assert "planned failure on attempt 1" in (failed.last_error or "")
    await db.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))
    await db.commit()

    finished = await run_until_finished(db, fast_settings, job.id)
    assert finished.status == JobStatus.SUCCEEDED and finished.attempts == 3
    assert await rows_for(db, "flaky") == 1  # the failed attempts' rows were rolled back
    assert metric("loumo_jobs_retried_total", "test.record") == retried + 2


async def test_a_job_that_keeps_failing_goes_dead_and_can_be_retried(
    db: AsyncSession, fast_settings: Settings
) -> None:
    dead_before = metric("loumo_jobs_dead_total", "test.record")
    job = await defer(db, "test.record", {"key": "doomed", "fail_times": 99}, max_attempts=2)
    await db.commit()
    dead = await run_until_finished(db, fast_settings, job.id)
    assert dead.status == JobStatus.DEAD and dead.attempts == 2
    assert metric("loumo_jobs_dead_total", "test.record") == dead_before + 1
    assert [j.id for j in await list_jobs(sessions_of(db), status="dead")] == [job.id]

    assert await retry_jobs(sessions_of(db), all_dead=True) == 1
    revived = await reload(db, job.id)
    assert revived.status == JobStatus.PENDING and revived.attempts == 0


async def test_permanent_errors_and_unknown_jobs(db: AsyncSession, fast_settings: Settings) -> None:
    permanent = await defer(db, "test.permanent", {})
    unknown = await defer(db, "test.no_such_handler", {}, max_attempts=2)
    permanent_id, unknown_id = permanent.id, unknown.id
    await db.commit()
    dead_at_once = await run_until_finished(db, fast_settings, permanent_id)
    assert dead_at_once.status == JobStatus.DEAD and dead_at_once.attempts == 1
    gone = await run_until_finished(db, fast_settings, unknown_id)
    assert gone.status == JobStatus.DEAD and "no handler" in (gone.last_error or "")


def test_backoff_grows_with_jitter_and_is_capped(settings: Settings) -> None:
    delays = [retry_delay(n, settings) for n in range(1, 8)]
    base = settings.jobs_retry_base_seconds
    for n, delay in enumerate(delays, start=1):
        assert base * 2 ** (n - 1) * 0.5 <= delay <= base * 2 ** (n - 1)
    capped = settings.model_copy(update={"jobs_retry_max_seconds": 5.0})
    assert all(retry_delay(n, capped) <= 5.0 for n in range(1, 30))


async def test_concurrent_runners_claim_a_job_once(db: AsyncSession, settings: Settings) -> None:
    job = await defer(db, "test.record", {"key": "raced"})
    await db.commit()
    database: Database = Database(settings.database_url)
    try:
        outcomes = await asyncio.gather(
            *(run_job(database.sessionmaker, job.id, settings) for _ in range(6))
        )
    finally:
        await database.dispose()
    assert sorted(outcomes) == sorted([Outcome.SUCCEEDED] + [Outcome.SKIPPED] * 5)
    assert await rows_for(db, "raced") == 1


async def test_a_job_whose_runner_vanished_runs_again_after_its_lease(
    db: AsyncSession, settings: Settings
) -> None:
    job = await defer(db, "test.record", {"key": "orphan"})
    await db.commit()
    # A runner claimed it, then died: running, attempt spent, lease still valid.
    await db.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(status=JobStatus.RUNNING, attempts=1, locked_until=utcnow() + timedelta(hours=1))
    )
    await db.commit()
    assert await run_pending(db, settings) == 0  # the lease protects a live runner
    await db.execute(
        update(Job).where(Job.id == job.id).values(locked_until=utcnow() - timedelta(seconds=1))
    )
    await db.commit()
    assert await run_pending(db, settings) == 1
    done = await reload(db, job.id)
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 2
    assert await rows_for(db, "orphan") == 1


async def test_job_logs_carry_job_and_request_ids(
    db: AsyncSession, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-0123456789"):
        job = await defer(db, "test.record", {"key": "traced"})
    await db.commit()
    assert job.request_id == "req-0123456789"
    with caplog.at_level(logging.INFO, logger="loumo.jobs"):
        await run_pending(db, settings)
    lines = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    done = [x for x in lines if x.get("event") == "job_succeeded"]
    assert done and done[0]["job_id"] == job.id and done[0]["job_name"] == "test.record"
    assert done[0]["request_id"] == "req-0123456789"


async def test_enqueued_metric_counts_committed_jobs_only(
    db: AsyncSession, app: FastAPI, client: object
) -> None:
    before = metric("loumo_jobs_enqueued_total", "test.metric")
    await defer(db, "test.metric", {})
    await db.rollback()
    await defer(db, "test.metric", {})
    await db.commit()
    assert metric("loumo_jobs_enqueued_total", "test.metric") == before + 1


def test_jobs_cli_lists_and_retries_dead_jobs(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def arrange() -> str:
        database = Database(database_url)
        try:
            async with database.sessionmaker() as session:
                job = await defer(session, "test.cli", {})
                job.status = JobStatus.DEAD
                job.attempts = job.max_attempts
                job.last_error = "Traceback...\nRuntimeError: boom"
                await session.commit()
                return job.id
        finally:
            await database.dispose()

    job_id = asyncio.run(arrange())
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("ENVIRONMENT", "test")
    get_settings.cache_clear()
    runner = CliRunner()

    def loumo(*args: str) -> Result:
        return runner.invoke(cli.app, list(args))

    try:
        listed = loumo("jobs", "list", "--status", "dead")
        assert listed.exit_code == 0, listed.output
        assert job_id in listed.output and "RuntimeError: boom" in listed.output
        assert loumo("jobs", "list", "--status", "bogus").exit_code == 2
        assert loumo("jobs", "retry").exit_code == 2
        retried = loumo("jobs", "retry", job_id)
        assert retried.exit_code == 0 and "1 job(s)" in retried.output
        assert job_id not in loumo("jobs", "list", "--status", "dead").output
        assert loumo("jobs", "retry", job_id).exit_code == 1  # no longer dead
    finally:
        get_settings.cache_clear()

    async def cleanup() -> None:
        database = Database(database_url)
        try:
            async with database.sessionmaker() as session:
                await session.execute(delete(Job))
                await session.commit()
        finally:
            await database.dispose()

    asyncio.run(cleanup())
