"""A job for the cluster's fault tests; `loumo worker` processes import it via JOBS_MODULES.

`test.cluster_slow` logs every run (job, attempt, worker pid), makes its external effect once per
key (an idempotent effect, as a real job's must be: a redelivered job runs again), then, on its
first attempt, sleeps, so that a test can kill the worker running it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.context import current_job
from loumo.jobs.registry import job


@job("test.cluster_slow")
async def cluster_slow(session: AsyncSession, payload: dict[str, Any]) -> None:
    directory = Path(payload["dir"])
    run = current_job()
    with (directory / "runs.log").open("a") as runs:
        runs.write(f"{run.job_id} {run.attempt} {os.getpid()}\n")
    with (directory / "effects.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        effects = directory / "effects.log"
        if not (effects.exists() and payload["key"] in effects.read_text().split()):
            with effects.open("a") as out:
                out.write(payload["key"] + "\n")
    if run.attempt == 1:
        await asyncio.sleep(payload["sleep"])
