"""Job handlers used by the job tests; worker subprocesses import them via JOBS_MODULES."""

from __future__ import annotations

import asyncio
import fcntl
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.models import AuditEntry
from loumo.jobs.context import current_job
from loumo.jobs.registry import PermanentJobError, job


def append_line(path: Path, line: str) -> None:
    with path.open("a") as f:
        f.write(line + "\n")


@job("test.record")
async def record(session: AsyncSession, payload: dict[str, Any]) -> None:
    """A database effect (a row), then optionally a failure: the row must not survive it."""
    session.add(AuditEntry(action="test.record", entity_id=payload["key"]))
    await session.flush()
    if current_job().attempt <= payload.get("fail_times", 0):
        raise RuntimeError(f"planned failure on attempt {current_job().attempt}")


@job("test.permanent")
async def permanent(session: AsyncSession, payload: dict[str, Any]) -> None:
    raise PermanentJobError("retrying cannot help")


@job("test.file_effect")
async def file_effect(session: AsyncSession, payload: dict[str, Any]) -> None:
    """An external effect made idempotent by its key: every run is logged, the effect once.

    On the first attempt it then sleeps, so that a test can kill the worker mid-job.
    """
    directory = Path(payload["dir"])
    append_line(directory / "runs.log", f"{current_job().job_id} attempt={current_job().attempt}")
    effects = directory / "effects.log"
    with (directory / "effects.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = effects.exists() and payload["key"] in effects.read_text().split()
        if not done:
            append_line(effects, payload["key"])
    if current_job().attempt == 1:
        await asyncio.sleep(payload.get("sleep", 0))


@job("test.gated")
async def gated(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Logs its run, then holds until the file `gate` exists in `dir` (the test opens it); its
    row is written after, so a run cut short leaves none."""
    directory = Path(payload["dir"])
    append_line(directory / "runs.log", f"{current_job().job_id} attempt={current_job().attempt}")
    while not (directory / "gate").exists():
        await asyncio.sleep(0.05)
    session.add(AuditEntry(action="test.gated", entity_id=payload["key"]))
    await session.flush()
