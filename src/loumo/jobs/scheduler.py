"""Periodic jobs: each period is claimed once across all processes by a unique row insert."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from loumo.core.db import utcnow
from loumo.core.once import rowcount
from loumo.jobs.models import PeriodicRun
from loumo.jobs.outbox import defer
from loumo.jobs.registry import Schedule, schedules
from loumo.jobs.runner import Sessions

logger = structlog.get_logger("loumo.jobs")


def period_start(schedule: Schedule, now: datetime) -> datetime:
    """The start of the period `now` falls in."""
    start = math.floor(now.timestamp() / schedule.every) * schedule.every
    return datetime.fromtimestamp(start, UTC)


MAX_CATCH_UP = 10


def missed_starts(schedule: Schedule, last: datetime, start: datetime) -> list[datetime]:
    """Period starts after `last` and before `start` (at most MAX_CATCH_UP, oldest first).

    A process that stalled (a long job, a loaded machine) still claims the periods it slept
    through; the unique claim keeps each period to one run whichever process gets there first.
    """
    found: list[datetime] = []
    step = timedelta(seconds=schedule.every)
    moment = last + step
    while moment < start and len(found) < MAX_CATCH_UP:
        found.append(moment)
        moment += step
    return found


class Scheduler:
    """Defers each periodic job once per period; run by every dispatcher, relay and worker."""

    def __init__(self, sessions: Sessions, only: Iterable[Schedule] | None = None) -> None:
        self.sessions = sessions
        self.only = list(only) if only is not None else None
        self._seen: dict[str, datetime] = {}

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Claim the current period of every schedule not yet claimed; returns the job ids."""
        now = now or utcnow()
        deferred: list[str] = []
        for schedule in self.only if self.only is not None else schedules():
            start = period_start(schedule, now)
            last = self._seen.get(schedule.name)
            if last == start:
                continue
            starts = [*missed_starts(schedule, last, start), start] if last else [start]
            for moment in starts:
                job_id = await self._claim(schedule, moment)
                if job_id is not None:
                    deferred.append(job_id)
            self._seen[schedule.name] = start
        return deferred

    async def _claim(self, schedule: Schedule, start: datetime) -> str | None:
        async with self.sessions() as session:
            try:
                job = await defer(
                    session,
                    schedule.name,
                    {"period_start": start.isoformat()},
                    max_attempts=schedule.max_attempts,
                )
                session.add(PeriodicRun(name=schedule.name, period_start=start, job_id=job.id))
                await session.flush()
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
        logger.info("periodic_scheduled", job_name=schedule.name, period_start=start.isoformat())
        return job.id


async def prune_periodic_runs(sessions: Sessions, older_than: timedelta) -> int:
    async with sessions() as session:
        result = await session.execute(
            delete(PeriodicRun).where(PeriodicRun.created_at < utcnow() - older_than)
        )
        await session.commit()
    return rowcount(result)
