"""A periodic job every second, for worker subprocesses (JOBS_MODULES) only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.registry import periodic
from tests.jobs.handlers import append_line


@periodic("test.tick", every=1)
async def tick(session: AsyncSession, payload: dict[str, Any]) -> None:
    append_line(Path(os.environ["LOUMO_TEST_EFFECTS_DIR"]) / "ticks.log", payload["period_start"])
