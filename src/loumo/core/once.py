"""Doing a thing exactly once under concurrency: a conditional `UPDATE` that only one of several
parallel requests (or jobs) can win, because the row lock (PostgreSQL) or the write lock
(SQLite) orders them and the later ones no longer match the condition.

- `stamp_once(session, column, row_id, at)`: set a still-empty timestamp;
- `update_if(session, row, *where, **values)`: write `values` to a loaded row while `where`
  holds (a status move, a guard column); the object learns them too;
- `rows_changed(session, statement)`: run any such `UPDATE` (or `DELETE`) and count its rows;
  `rowcount(result)` counts those of a statement already run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Delete, Update, update
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


async def rows_changed(session: AsyncSession, statement: Update | Delete) -> int:
    """Run `statement` (the ORM objects in the session are left as they are) and say how many
    rows it changed."""
    return rowcount(await session.execute(statement.execution_options(synchronize_session=False)))


async def update_if(
    session: AsyncSession, row: Any, *where: ColumnElement[bool], **values: Any
) -> bool:
    """Write `values` (plain values, not SQL expressions) to `row`'s database row only while
    `where` holds, in one UPDATE; then `row` holds them too. False when the conditions no
    longer held (another request got there first) and nothing was written."""
    model = type(row)
    statement = update(model).where(model.id == row.id, *where).values(**values)
    if await rows_changed(session, statement) != 1:
        return False
    for key, value in values.items():
        setattr(row, key, value)
    return True
