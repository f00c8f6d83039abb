"""`loumo worker` processes on the real RabbitMQ (and Redis): crash recovery and periodic jobs.

Each test gets its own queue, removed at the end, so parallel runs never share messages.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

import pika
import pytest
import redis
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.models import AuditEntry
from loumo.jobs.models import Job, JobStatus, PeriodicRun
from loumo.jobs.outbox import defer
from tests.conftest import PROCESS_DEADLINE
from tests.jobs.conftest import eventually
from tests.private_services import ThreadedTcpProxy

pytestmark = pytest.mark.e2e
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
REDIS_URL = "redis://127.0.0.1:6379/0"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker_url() -> str:
    return RABBITMQ_URL


@pytest.fixture
def queue(broker_url: str) -> Iterator[str]:
    name = f"loumo.test.{uuid.uuid4().hex[:12]}"
    yield name
    if not broker_url:
        return
    if broker_url.startswith("redis"):
        client = redis.Redis.from_url(broker_url)
        try:
            keys = list(client.scan_iter(match=f"dramatiq.{name}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
        return
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(name + suffix)
    finally:
        connection.close()


class Spawn(Protocol):
    def __call__(self, label: str, **extra: str) -> subprocess.Popen[bytes]: ...


@pytest.fixture
def spawn_worker(
    app: FastAPI, database_url: str, broker_url: str, queue: str, tmp_path: Path
) -> Iterator[Spawn]:
    """Start `loumo worker` processes on the test database and queue; all stopped at the end."""
    processes: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "VAR_DIR": str(tmp_path / "var"),
        "BROKER_URL": broker_url,  # empty: the worker polls the jobs table itself
        "JOBS_QUEUE": queue,
        "JOBS_POLL_INTERVAL": "0.1",
        "JOBS_LEASE_SECONDS": "2",
        "JOBS_RELAY_LEASE_SECONDS": "2",
        "JOBS_MODULES": "tests.jobs.handlers",
        "LOUMO_TEST_EFFECTS_DIR": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
    }

    def spawn(label: str, **extra: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{label}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "loumo", "worker", "--threads", "2"],
            env={**env, **extra},
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        deadline = time.monotonic() + PROCESS_DEADLINE
        log_path = tmp_path / f"worker-{label}.log"
        while b"worker_started" not in log_path.read_bytes():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        return process

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=PROCESS_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def job_row(db: AsyncSession, job_id: str) -> Job:
    db.expire_all()
    job = await db.get(Job, job_id)
    assert job is not None
    return job


@pytest.mark.parametrize(
    "broker_url", [RABBITMQ_URL, REDIS_URL, ""], ids=["rabbitmq", "redis", "no-broker"]
)
async def test_a_job_survives_kill_9_of_its_worker_with_one_effect(
    db: AsyncSession, spawn_worker: Spawn, tmp_path: Path
) -> None:
    first = spawn_worker("first")
    job = await defer(
        db, "test.file_effect", {"dir": str(tmp_path), "key": "parcel-42", "sleep": 60}
    )
    job_id = job.id
    await db.commit()
    runs = tmp_path / "runs.log"

    async def started() -> bool:
        return runs.exists() and len(runs.read_text().splitlines()) == 1

    await eventually(started, what="the first worker to start the job")
    assert (await job_row(db, job_id)).status == JobStatus.RUNNING
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=PROCESS_DEADLINE)

    spawn_worker("second")

    async def finished() -> bool:
        return (await job_row(db, job_id)).status == JobStatus.SUCCEEDED

    await eventually(finished, what="the second worker to finish the job")
    done = await job_row(db, job_id)
    assert done.attempts == 2
    assert [line.split()[1] for line in runs.read_text().splitlines()] == [
        "attempt=1",
        "attempt=2",
    ]
    assert (tmp_path / "effects.log").read_text().split() == ["parcel-42"]


async def test_a_periodic_job_runs_once_per_period_with_two_workers(
    db: AsyncSession, spawn_worker: Spawn, tmp_path: Path
) -> None:
    modules = {"JOBS_MODULES": "tests.jobs.handlers,tests.jobs.periodic_handlers"}
    workers = [spawn_worker("a", **modules), spawn_worker("b", **modules)]
    ticks = tmp_path / "ticks.log"

    async def several_periods() -> bool:
        return ticks.exists() and len(ticks.read_text().splitlines()) >= 5

    await eventually(several_periods, what="five periods of the periodic job")
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=PROCESS_DEADLINE)

    periods = [datetime.fromisoformat(line) for line in ticks.read_text().splitlines()]
    assert len(periods) == len(set(periods)), "a period ran twice"
    seconds = sorted(int(p.timestamp()) for p in periods)
    assert seconds == list(range(seconds[0], seconds[-1] + 1)), "a period was skipped"
    claimed = await db.scalar(
        select(func.count()).select_from(PeriodicRun).where(PeriodicRun.name == "test.tick")
    )
    ran = await db.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.name == "test.tick", Job.status == JobStatus.SUCCEEDED)
    )
    # Periods claimed while the workers were stopping stay pending for the next worker.
    assert ran == len(periods) and claimed is not None and claimed >= ran


def worker_log(tmp_path: Path, label: str) -> str:
    return (tmp_path / f"worker-{label}.log").read_text(errors="replace")


async def wait_exit(process: subprocess.Popen[bytes]) -> int:
    return await asyncio.to_thread(process.wait, PROCESS_DEADLINE)


async def audit_rows(db: AsyncSession, key: str) -> int:
    count = await db.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_id == key)
    )
    return int(count or 0)


async def gated_job_started(db: AsyncSession, tmp_path: Path, key: str) -> str:
    """Defer a `test.gated` job (it holds until `tmp_path/gate` exists) and wait until a worker
    runs it; its id."""
    job_id = (await defer(db, "test.gated", {"dir": str(tmp_path), "key": key})).id
    await db.commit()

    async def started() -> bool:
        return (tmp_path / "runs.log").exists()

    await eventually(started, what="a worker to start the gated job")
    return job_id


@pytest.mark.parametrize("broker_url", [RABBITMQ_URL, ""], ids=["rabbitmq", "no-broker"])
async def test_sigterm_finishes_the_running_job_takes_no_new_one_and_exits_0(
    db: AsyncSession, spawn_worker: Spawn, tmp_path: Path
) -> None:
    worker = spawn_worker("only", SHUTDOWN_TIMEOUT=str(int(PROCESS_DEADLINE)))
    job_id = await gated_job_started(db, tmp_path, "gated-finish")
    worker.send_signal(signal.SIGTERM)

    async def loop_stopped() -> bool:
        return "job_loop_stopped" in worker_log(tmp_path, "only")

    await eventually(loop_stopped, what="the worker to stop taking jobs")
    later_id = (await defer(db, "test.record", {"key": "after-sigterm"})).id
    await db.commit()
    (tmp_path / "gate").touch()
    assert await wait_exit(worker) == 0

    done = await job_row(db, job_id)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 1)
    assert await audit_rows(db, "gated-finish") == 1
    waiting = await job_row(db, later_id)
    assert (waiting.status, waiting.attempts) == (JobStatus.PENDING, 0)
    assert await audit_rows(db, "after-sigterm") == 0


@pytest.mark.parametrize(
    "broker_url", [RABBITMQ_URL, REDIS_URL, ""], ids=["rabbitmq", "redis", "no-broker"]
)
async def test_a_job_outliving_the_shutdown_timeout_is_given_back_and_runs_again(
    db: AsyncSession, spawn_worker: Spawn, tmp_path: Path
) -> None:
    first = spawn_worker("first", SHUTDOWN_TIMEOUT="1")
    job_id = await gated_job_started(db, tmp_path, "gated-cut")
    first.send_signal(signal.SIGTERM)
    assert await wait_exit(first) == 0
    assert "job_interrupted" in worker_log(tmp_path, "first")
    # Back in the table, due now, the cut run not counted, and nothing of it committed.
    back = await job_row(db, job_id)
    assert (back.status, back.attempts, back.locked_until) == (JobStatus.PENDING, 0, None)
    assert await audit_rows(db, "gated-cut") == 0

    (tmp_path / "gate").touch()
    spawn_worker("second")

    async def finished() -> bool:
        return (await job_row(db, job_id)).status == JobStatus.SUCCEEDED

    await eventually(finished, what="the second worker to run the job")
    assert (await job_row(db, job_id)).attempts == 1
    assert [line.split()[1] for line in (tmp_path / "runs.log").read_text().splitlines()] == [
        "attempt=1",
        "attempt=1",
    ]
    assert await audit_rows(db, "gated-cut") == 1


async def test_a_job_deferred_while_the_broker_is_unreachable_runs_once_it_is_back(
    db: AsyncSession, spawn_worker: Spawn, tmp_path: Path
) -> None:
    """RabbitMQ unreachable (a forwarder in front of it, cut): the change that defers a job
    still commits (the jobs table is the record), the job waits, and once the broker answers
    again the relay sends it and a worker runs it, once."""
    proxy = ThreadedTcpProxy("127.0.0.1", 5672)
    try:
        proxy.start()
        spawn_worker("behind-proxy", BROKER_URL=f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F")
        effects = tmp_path / "effects.log"

        async def run(key: str) -> str:
            job = await defer(db, "test.file_effect", {"dir": str(tmp_path), "key": key})
            await db.commit()
            return job.id

        async def done(job_id: str) -> bool:
            return (await job_row(db, job_id)).status == JobStatus.SUCCEEDED

        before = await run("before")
        await eventually(lambda: done(before), what="a job while the broker answers")

        proxy.cut()
        during = await run("during")
        await asyncio.sleep(3)  # longer than the relay's lease (2 s): it tried and failed
        assert (await job_row(db, during)).status == JobStatus.PENDING

        proxy.start()
        await eventually(lambda: done(during), what="the job deferred while the broker was away")
        assert effects.read_text().split() == ["before", "during"]
        runs = (tmp_path / "runs.log").read_text().splitlines()
        assert [line.split()[0] for line in runs] == [before, during]  # each run once
    finally:
        proxy.close()
