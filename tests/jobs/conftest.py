"""Helpers for the job tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import tests.jobs.handlers  # noqa: F401  (registers the test handlers)
from tests.conftest import PROCESS_DEADLINE


async def eventually(
    check: Callable[[], Awaitable[bool]],
    *,
    timeout: float = PROCESS_DEADLINE,
    what: str = "condition",
) -> None:
    """Wait until `check()` holds; a deadline, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
