"""Row helpers the services share, so that each rule below is written once:

- `get_or_raise(session, Model, id, error)`: the row with that id as the database has it now,
  or `error` (a 404) when there is none; `one_or_raise(session, query, error)` does the same
  for the one row a query selects (an id and an ownership rule, say).
- `update_if(session, row, *where, **values)`: one conditional UPDATE of `row` (only while
  `where` holds), the guard of every "exactly once" move; on success `row` holds `values` too.
- `rows_changed(session, statement)`: run an UPDATE or DELETE and say how many rows it changed.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, Delete, Select, Update, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.errors import AppError

T = TypeVar("T")


async def get_or_raise(session: AsyncSession, model: type[T], row_id: str, error: AppError) -> T:
    """The `model` row `row_id`, reloaded from the database; `error` when there is none."""
    row = await session.get(model, row_id, populate_existing=True)
    if row is None:
        raise error
    return row


async def one_or_raise(session: AsyncSession, query: Select[T], error: AppError) -> T:
    """The row `query` selects, reloaded from the database; `error` when there is none."""
    row = await session.scalar(query.execution_options(populate_existing=True))
    if row is None:
        raise error
    return row


async def rows_changed(session: AsyncSession, statement: Update | Delete) -> int:
    """Run `statement` (the ORM objects in the session are left as they are) and say how many
    rows it changed."""
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


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
