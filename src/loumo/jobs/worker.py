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
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
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
        logger.info("worker_stopping")
        await system.stop_loop()  # stop relaying and scheduling, then finish the running jobs
        if worker is not None:
            await asyncio.to_thread(worker.stop)
        await system.stop()
        await db.dispose()


def run_worker(settings: Settings, modules: Iterable[str], *, threads: int = 4) -> None:
    """Run until SIGINT or SIGTERM."""
    asyncio.run(_serve(settings, list(modules), threads))
