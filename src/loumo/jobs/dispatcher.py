"""The loops that move jobs: the embedded dispatcher and the broker relay, plus the scheduler.

`Dispatcher` polls the jobs table and runs due jobs in this process (the embedded default, also
what `loumo worker` runs without a broker). `Relay` hands due jobs to the broker instead, for
`loumo worker` processes to run. Both run the periodic scheduler. Every step is a conditional
UPDATE on the jobs table, so any number of them can run side by side.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from sqlalchemy import delete, update

from loumo.core.db import utcnow
from loumo.core.once import rowcount
from loumo.core.settings import Settings
from loumo.jobs.broker import BrokerRuntime
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.outbox import add_commit_listener, remove_commit_listener
from loumo.jobs.runner import Sessions, due, due_job_ids, run_job
from loumo.jobs.scheduler import Scheduler, prune_periodic_runs

logger = structlog.get_logger("loumo.jobs")
PERIODIC_RUN_RETENTION = timedelta(days=1)


class _Loop(abc.ABC):
    """A poll loop woken early by local commits that deferred jobs; `step` is one pass."""

    def __init__(self, sessions: Sessions, settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.scheduler = Scheduler(sessions)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_prune = float("-inf")  # prune once at start, then hourly
        self._stopping = False

    def _on_commit(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        add_commit_listener(self._on_commit)
        self._task = asyncio.create_task(self._run(), name=type(self).__name__)

    async def stop(self) -> None:
        remove_commit_listener(self._on_commit)
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the caller itself is being cancelled
            self._task = None
            logger.info("job_loop_stopped", loop=type(self).__name__)

    async def _run(self) -> None:
        logger.info("job_loop_started", loop=type(self).__name__)
        while not self._stopping:
            self._wake.clear()
            try:
                await self.scheduler.tick()
                await self.step()
                await self._maybe_prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("job_loop_error", loop=type(self).__name__)
            # Not `asyncio.wait_for`: on Python 3.11 it swallows a cancel that lands as the wake
            # event is set (a job finishing at SIGTERM), and the loop would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.jobs_poll_interval):
                    await self._wake.wait()

    async def _maybe_prune(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_prune < 3600:
            return
        self._last_prune = loop.time()
        await prune_periodic_runs(self.sessions, PERIODIC_RUN_RETENTION)
        await prune_finished_jobs(self.sessions, timedelta(days=self.settings.jobs_retention_days))

    @abc.abstractmethod
    async def step(self) -> None:
        """Do one pass of this loop's work (run due jobs, or relay them to the broker)."""


class Dispatcher(_Loop):
    """Runs due jobs in this process, at most `jobs_concurrency` at a time."""

    def __init__(self, sessions: Sessions, settings: Settings) -> None:
        super().__init__(sessions, settings)
        self._running: dict[str, asyncio.Task[object]] = {}

    async def step(self) -> None:
        free = self.settings.jobs_concurrency - len(self._running)
        if free <= 0:
            return
        ids = await due_job_ids(self.sessions, limit=free, exclude=set(self._running))
        for job_id in ids:
            task = asyncio.create_task(run_job(self.sessions, job_id, self.settings))
            self._running[job_id] = task
            task.add_done_callback(functools.partial(self._done, job_id))

    def _done(self, job_id: str, _task: asyncio.Task[object]) -> None:
        self._running.pop(job_id, None)
        self._wake.set()  # a slot is free, and the job may have deferred others

    async def stop(self) -> None:
        """Take no more jobs; give the running ones SHUTDOWN_TIMEOUT to finish, then cut them
        (a cut run gives its job back to the table, see `runner.run_job`)."""
        await super().stop()
        running = list(self._running.values())
        if running:
            await asyncio.wait(running, timeout=self.settings.shutdown_timeout)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)


class Relay(_Loop):
    """Hands due jobs to the broker; the worker that receives one claims and runs it."""

    def __init__(self, sessions: Sessions, settings: Settings, runtime: BrokerRuntime) -> None:
        super().__init__(sessions, settings)
        self.runtime = runtime
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loumo-relay")

    async def step(self) -> None:
        while True:
            ids = await due_job_ids(self.sessions, limit=100)
            if not ids:
                return
            for job_id in ids:
                if await self._mark_relayed(job_id):
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(self._executor, self.runtime.send, job_id)
                    logger.debug("job_relayed", job_id=job_id)

    async def _mark_relayed(self, job_id: str) -> bool:
        """Take the job for relaying until the relay lease expires (then it is sent again)."""
        now = utcnow()
        async with self.sessions() as session:
            result = await session.execute(
                update(Job)
                .where(Job.id == job_id, due(now))
                .values(
                    status=JobStatus.PENDING,
                    locked_until=now + timedelta(seconds=self.settings.jobs_relay_lease_seconds),
                    run_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return rowcount(result) == 1

    async def stop(self) -> None:
        await super().stop()
        self._executor.shutdown(wait=True)


async def prune_finished_jobs(sessions: Sessions, older_than: timedelta) -> int:
    """Delete succeeded jobs older than the retention; dead jobs stay until retried or purged."""
    async with sessions() as session:
        result = await session.execute(
            delete(Job).where(
                Job.status == JobStatus.SUCCEEDED, Job.finished_at < utcnow() - older_than
            )
        )
        await session.commit()
    return rowcount(result)
