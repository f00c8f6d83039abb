"""The production engine: outbox jobs relayed to dramatiq (RabbitMQ or Redis) and run by workers.

The jobs table stays the record: a message carries only a job id, and the worker claims and runs
that job with the same runner as the embedded dispatcher. A lost or duplicated message is
therefore harmless: the relay sends a job again when its relay lease expires, and a duplicate
finds the job already claimed or finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage, ShutdownNotifications, TimeLimit

from loumo.core.db import Database
from loumo.core.settings import Settings
from loumo.jobs.runner import run_job

ACTOR_NAME = "loumo.run_job"
# No Retries middleware: the jobs table schedules retries, with its own backoff and dead state.
# The jobs table's lease bounds a run; dramatiq's own time limit only guards against a hung
# thread, so it is generous.
TIME_LIMIT_MS = 24 * 3600 * 1000


logging.getLogger("pika").setLevel(logging.WARNING)  # its INFO lines narrate every connection


def create_broker(url: str, queue: str) -> dramatiq.Broker:
    middleware = [TimeLimit(), ShutdownNotifications(), CurrentMessage(), AsyncIO()]
    if url.startswith(("amqp://", "amqps://")):
        return RabbitmqBroker(url=url, middleware=middleware)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(  # type: ignore[no-untyped-call]
            url=url, middleware=middleware, namespace=f"dramatiq.{queue}"
        )
    raise ValueError("BROKER_URL must be an amqp://, amqps://, redis:// or rediss:// URL")


@dataclass
class BrokerRuntime:
    """A broker and the one actor that runs outbox jobs by id."""

    settings: Settings
    broker: dramatiq.Broker = field(init=False)
    actor: Any = field(init=False)
    _db: Database | None = field(init=False, default=None)
    _running: dict[asyncio.Task[Any], asyncio.AbstractEventLoop] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        assert self.settings.broker_url
        self.broker = create_broker(self.settings.broker_url, self.settings.jobs_queue)
        self.actor = dramatiq.actor(
            broker=self.broker,
            actor_name=ACTOR_NAME,
            queue_name=self.settings.jobs_queue,
            time_limit=TIME_LIMIT_MS,
        )(self._run)

    async def _run(self, job_id: str) -> None:
        # Runs on the worker's event loop thread (dramatiq's AsyncIO middleware).
        if self._db is None:
            self._db = Database(self.settings.database_url, pool_size=5, max_overflow=5)
        task = asyncio.current_task()
        assert task is not None
        self._running[task] = asyncio.get_running_loop()
        try:
            await run_job(self._db.sessionmaker, job_id, self.settings)
        except asyncio.CancelledError:
            # `cut_running_jobs`: the job is back in the table, and the relay sends it again;
            # this message is done with.
            return
        finally:
            self._running.pop(task, None)

    @property
    def running_jobs(self) -> int:
        return len(self._running)

    def cut_running_jobs(self) -> None:
        """Cancel the runs in progress (from any thread): each gives its job back to the table
        (`runner.run_job`) and acknowledges its message. For a worker stopping past its
        deadline."""
        for task, loop in list(self._running.items()):
            loop.call_soon_threadsafe(task.cancel)

    def send(self, job_id: str) -> None:
        self.actor.send(job_id)

    def close(self) -> None:
        self.broker.close()

    async def dispose(self) -> None:
        # The worker's engine belongs to dramatiq's event loop thread; outside it, closing may
        # fail, and the process is ending anyway.
        if self._db is not None:
            with contextlib.suppress(Exception):
                await self._db.dispose()


async def ping_broker(url: str, connect_timeout: float = 3.0) -> None:
    """Raise unless the broker at `url` accepts a connection."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url, socket_connect_timeout=connect_timeout)
        try:
            await client.ping()
        finally:
            await client.aclose()
        return

    def _amqp() -> None:
        import pika

        params = pika.URLParameters(url)
        params.socket_timeout = connect_timeout
        params.blocked_connection_timeout = connect_timeout
        params.connection_attempts = 1
        connection = pika.BlockingConnection(params)
        connection.close()

    await asyncio.to_thread(_amqp)
