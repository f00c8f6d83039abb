"""What a running handler may know about its job: id, attempt, and the process settings."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from loumo.core.settings import Settings


@dataclass(frozen=True, slots=True)
class JobContext:
    job_id: str
    name: str
    attempt: int
    max_attempts: int
    request_id: str | None
    settings: Settings


_current: ContextVar[JobContext | None] = ContextVar("loumo_job", default=None)


def current_job() -> JobContext:
    """The job being run; only valid inside a handler."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("current_job() called outside a job handler")
    return ctx


def current_job_or_none() -> JobContext | None:
    return _current.get()
