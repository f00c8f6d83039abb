"""Wiring the job system into a process: the API lifespan and `loumo worker`."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request

from loumo.core.db import Database
from loumo.core.settings import Settings, app_settings
from loumo.jobs import runner
from loumo.jobs.broker import BrokerRuntime, ping_broker
from loumo.jobs.dispatcher import Dispatcher, Relay
from loumo.jobs.registry import load_task_modules


def task_modules(settings: Settings, modules: Iterable[str]) -> list[str]:
    extra = [m.strip() for m in settings.jobs_modules.split(",") if m.strip()]
    return [*modules, *extra]


class JobSystem:
    """The job loop this process runs: a relay when a broker is set, else the dispatcher."""

    def __init__(self, settings: Settings, db: Database, modules: Iterable[str]) -> None:
        self.settings = settings
        self.db = db
        load_task_modules(task_modules(settings, modules))
        runner.configure(settings)
        self.broker: BrokerRuntime | None = None
        self.loop: Dispatcher | Relay | None = None

    async def start(self, *, run_jobs_here: bool) -> None:
        """Start the relay (broker set) or, when `run_jobs_here`, the embedded dispatcher."""
        if self.settings.broker_url:
            self.broker = BrokerRuntime(self.settings)
            self.loop = Relay(self.db.sessionmaker, self.settings, self.broker)
        elif run_jobs_here:
            self.loop = Dispatcher(self.db.sessionmaker, self.settings)
        if self.loop is not None:
            await self.loop.start()

    async def stop_loop(self) -> None:
        """Stop taking, relaying and scheduling jobs."""
        if self.loop is not None:
            await self.loop.stop()
            self.loop = None

    async def stop(self) -> None:
        await self.stop_loop()
        if self.broker is not None:
            self.broker.close()
            await self.broker.dispose()
            self.broker = None


async def check_broker(request: Request) -> None:
    """Readiness: the job broker accepts connections."""
    settings = app_settings(request)
    assert settings.broker_url
    await ping_broker(settings.broker_url)
