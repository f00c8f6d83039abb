"""Periodic jobs: period alignment, and one run per period across schedulers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.models import Job, PeriodicRun
from loumo.jobs.registry import Schedule
from loumo.jobs.runner import sessions_of
from loumo.jobs.scheduler import Scheduler, period_start


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_periods_align_to_the_epoch() -> None:
    every_10 = Schedule(name="x", every=10)
    assert period_start(every_10, at("2026-11-25T10:00:17.5")) == at("2026-11-25T10:00:10")
    hourly = Schedule(name="y", every=3600)
    assert period_start(hourly, at("2026-11-25T10:42:00")) == at("2026-11-25T10:00:00")


async def test_one_run_per_period_whatever_the_number_of_schedulers(db: AsyncSession) -> None:
    schedule = Schedule(name="test.unscheduled", every=1)
    schedulers = [Scheduler(sessions_of(db), only=[schedule]) for _ in range(3)]
    started: list[str] = []
    for second in ("00", "00", "01", "01", "01", "03"):
        for scheduler in schedulers:
            started += await scheduler.tick(at(f"2026-11-25T10:00:{second}.5"))
    # Periods :00, :01, :03 and :02 (missed between two ticks, caught up), each once.
    assert len(started) == 4
    runs = await db.scalar(select(func.count()).select_from(PeriodicRun))
    jobs = await db.scalar(select(func.count()).select_from(Job).where(Job.id.in_(started)))
    assert runs == 4 and jobs == 4


async def test_a_stalled_scheduler_claims_the_periods_it_slept_through(db: AsyncSession) -> None:
    schedule = Schedule(name="test.catch_up", every=1)
    scheduler = Scheduler(sessions_of(db), only=[schedule])
    start = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert len(await scheduler.tick(start)) == 1
    # Four seconds later: the three missed periods and the current one, each once.
    assert len(await scheduler.tick(start + timedelta(seconds=4, milliseconds=300))) == 4
    other = Scheduler(sessions_of(db), only=[schedule])
    assert await other.tick(start + timedelta(seconds=4, milliseconds=600)) == []
    claimed = await db.scalars(
        select(PeriodicRun.period_start)
        .where(PeriodicRun.name == "test.catch_up")
        .order_by(PeriodicRun.period_start)
    )
    assert [p.second for p in claimed] == [0, 1, 2, 3, 4]
