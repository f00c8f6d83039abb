"""The embedded dispatcher inside an API process: woken by commits, runs what handlers defer."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.models import AuditEntry
from loumo.core.db import Database
from loumo.core.settings import Settings
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.outbox import defer
from loumo.jobs.registry import job
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
