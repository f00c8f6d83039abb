"""`loumo worker`: runs jobs in a process of its own.

With a broker it runs dramatiq worker threads on the jobs queue plus the relay and scheduler;
without one it runs the polling dispatcher (for deployments that keep jobs out of the API
processes with `JOBS_IN_PROCESS=false`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable

import structlog
from dramatiq import Worker

from loumo.core.db import Database
from loumo.core.settings import Settings
from loumo.jobs.runtime import JobSystem

logger = structlog.get_logger("loumo.jobs")


async def _serve(settings: Settings, modules: Iterable[str], threads: int) -> None:
    db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        command_timeout=settings.db_command_timeout,
    )
    system = JobSystem(settings, db, modules)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await system.start(run_jobs_here=True)
    worker: Worker | None = None
    if system.broker is not None:
        worker = Worker(system.broker.broker, queues={settings.jobs_queue}, worker_threads=threads)
        await asyncio.to_thread(worker.start)
    logger.info(
        "worker_started",
        mode="broker" if worker else "poll",
        queue=settings.jobs_queue if worker else None,
        threads=threads,
    )
    try:
        await stop.wait()
    finally:
        logger.info("worker_stopping", deadline_seconds=settings.shutdown_timeout)
        # Stop relaying and scheduling; without a broker, also finish or cut the running jobs.
        await system.stop_loop()
        if worker is not None:
            await _stop_worker(worker, system, settings.shutdown_timeout)
        await system.stop()
        await db.dispose()
        logger.info("worker_stopped")


async def _stop_worker(worker: Worker, system: JobSystem, deadline: float) -> None:
    """Stop dramatiq's threads: they take no new message (those fetched ahead go back to the
    queue) and finish the running jobs; a job still running at the deadline is cut, which gives
    it back to the jobs table for the relay to send again. A message never acknowledged (the
    process killed) goes back to the queue on its own."""
    # dramatiq's own timeout only bounds the joins once the runs have ended or been cut.
    stopping = asyncio.create_task(asyncio.to_thread(worker.stop, int((deadline + 30) * 1000)))
    done, _ = await asyncio.wait({stopping}, timeout=deadline)
    if not done and system.broker is not None:
        logger.warning("worker_deadline_passed", cut=system.broker.running_jobs)
        system.broker.cut_running_jobs()
    await stopping


def run_worker(settings: Settings, modules: Iterable[str], *, threads: int = 4) -> None:
    """Run until SIGINT or SIGTERM."""
    asyncio.run(_serve(settings, list(modules), threads))
