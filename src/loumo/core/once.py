"""Doing a thing exactly once under concurrency: a conditional `UPDATE` that only one of several
parallel requests (or jobs) can win, because the row lock (PostgreSQL) or the write lock
(SQLite) orders them and the later ones no longer match the condition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


def rowcount(result: Any) -> int:
    """How many rows an `UPDATE` or `DELETE` result touched."""
    return int(getattr(result, "rowcount", 0) or 0)


async def stamp_once(
    session: AsyncSession, column: InstrumentedAttribute[datetime | None], row_id: str, at: datetime
) -> bool:
    """Set the still-empty timestamp `column` (`used_at`, `released_at`) of the row `row_id` to
    `at`; True for the one caller that set it, False when it was set already."""
    model = column.class_
    result = await session.execute(
        update(model)
        .where(model.id == row_id, column.is_(None))
        .values({column: at})
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1
