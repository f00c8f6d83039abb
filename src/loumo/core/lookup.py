"""One row or a 404, written once for every service:

- `get_or_raise(session, Model, id, error)`: the row with that id as the database has it now,
  or `error` (the domain's 404) when there is none;
- `one_or_raise(session, query, error)`: the same for the one row a query selects (an id and
  the domain's ownership rule, so that not-yours and unknown are the same 404).
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select
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
