"""The embedded dispatcher inside an API process: woken by commits, runs what handlers defer."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.models import AuditEntry
from loumo.core.db import Database
from loumo.core.settings import Settings
from loumo.jobs.dispatcher import _Loop
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.outbox import defer
from loumo.jobs.registry import job
from loumo.jobs.runner import Sessions, sessions_of
from loumo.main import create_app
from tests.jobs.conftest import eventually


@job("test.chain")
async def chain(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Defers the next link: jobs deferred by a handler run after it commits."""
    if payload["left"] > 0:
        await defer(session, "test.chain", {"key": payload["key"], "left": payload["left"] - 1})
    else:
        await defer(session, "test.record", {"key": payload["key"]})


async def test_a_commit_wakes_the_dispatcher_and_deferred_chains_run_to_the_end(
    settings: Settings, app: FastAPI
) -> None:
    # A poll interval far longer than the test: only the commit wake-up can make it run.
    api = create_app(
        settings.model_copy(update={"jobs_in_process": True, "jobs_poll_interval": 600.0})
    )
    async with api.router.lifespan_context(api):
        database: Database = api.state.db
        async with database.sessionmaker() as session:
            await defer(session, "test.chain", {"key": "chained", "left": 3})
            await session.commit()

        async def all_done() -> bool:
            async with database.sessionmaker() as session:
                # Only this chain: periodic jobs (e.g. accounts.purge) run in this app too.
                statuses = list(
                    await session.scalars(
                        select(Job.status).where(Job.name.in_(("test.chain", "test.record")))
                    )
                )
            return len(statuses) == 5 and set(statuses) == {JobStatus.SUCCEEDED}

        await eventually(all_done, what="the chain of five jobs")
        async with database.sessionmaker() as session:
            rows = await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.entity_id == "chained")
            )
        assert rows == 1


class LosesACancel(_Loop):
    """A loop whose step swallows a cancel, as a library under it sometimes does (Python 3.11's
    `wait_for` loses a cancel that lands as what it waits for completes)."""

    def __init__(self, sessions: Sessions, settings: Settings) -> None:
        super().__init__(sessions, settings)
        self.in_step = asyncio.Event()

    async def step(self) -> None:
        self.in_step.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(1)


async def test_stop_ends_the_loop_even_when_a_cancel_is_lost(
    settings: Settings, db: AsyncSession
) -> None:
    """A worker on SIGTERM hung for good when its loop's cancel was lost: stop must not rely on
    the cancel alone."""
    loop = LosesACancel(sessions_of(db), settings.model_copy(update={"jobs_poll_interval": 600.0}))
    await loop.start()
    await loop.in_step.wait()
    stopping = asyncio.create_task(loop.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)
    assert done, "the loop did not stop"
