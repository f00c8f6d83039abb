"""Job handlers by name, and periodic schedules; domains register themselves here.

The job machinery knows no domain: a package declares its handlers in its `tasks.py` with
`@job("name")` or `@periodic("name", every=...)`, and the process imports those modules
(`load_task_modules`) before it runs jobs.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a periodic job runs: every N seconds, periods aligned to the Unix epoch."""

    name: str
    every: float
    max_attempts: int = 3


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (bad payload, refused recipient): the job
    goes straight to `dead`."""


_handlers: dict[str, Handler] = {}
_schedules: dict[str, Schedule] = {}


def job(name: str) -> Callable[[Handler], Handler]:
    """Register `handler(session, payload)` as the handler of job `name`.

    The handler runs in its own unit of work (committed once, with the job's success) and must
    be idempotent: a job may be delivered more than once.
    """

    def decorator(handler: Handler) -> Handler:
        existing = _handlers.get(name)
        if existing is not None and existing is not handler:
            raise ValueError(f"job {name!r} already has a handler ({existing.__qualname__})")
        _handlers[name] = handler
        return handler

    return decorator


def periodic(
    name: str,
    *,
    every: float | timedelta,
    max_attempts: int = 3,
) -> Callable[[Handler], Handler]:
    """Register a job that runs once per period across all processes.

    `every` (seconds or a timedelta) makes periods aligned to the Unix epoch (an hourly job
    runs on the hour, UTC).
    """
    seconds = every.total_seconds() if isinstance(every, timedelta) else float(every)
    if seconds <= 0:
        raise ValueError("every= must be positive")
    schedule = Schedule(name=name, every=seconds, max_attempts=max_attempts)

    def decorator(handler: Handler) -> Handler:
        job(name)(handler)
        _schedules[name] = schedule
        return handler

    return decorator


def get_handler(name: str) -> Handler | None:
    return _handlers.get(name)


def handler_names() -> list[str]:
    return sorted(_handlers)


def schedules() -> list[Schedule]:
    return list(_schedules.values())


def load_task_modules(modules: Iterable[str]) -> None:
    """Import the modules that declare handlers (idempotent)."""
    for module in modules:
        module = module.strip()
        if module:
            importlib.import_module(module)
