"""Unique columns (a slug, a name, a reference): a value another row holds is a 409 on that
field, checked before the write so that the answer is clear, and caught again on flush for a
race the check could not see (`flush_or_conflict`).

`taken` is the 409's message with `{}` where the value goes (`"Slug '{}' is already used"`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from loumo.core.db import flush_or_conflict, is_taken, save_changes
from loumo.core.errors import Conflict

Column = InstrumentedAttribute[Any]
"""A mapped column as a model's class attribute (`Zone.name`)."""


async def check_free(
    session: AsyncSession,
    column: Column,
    value: Any,
    taken: str,
    *,
    exclude_id: str | None = None,
) -> None:
    """A 409 `taken` on the column's field when a row other than `exclude_id` holds `value`."""
    if await is_taken(session, column, value, exclude_id=exclude_id):
        raise Conflict(taken.format(value), field=column.key)


async def check_change_free(
    session: AsyncSession, row: Any, changes: Mapping[str, Any], column: Column, taken: str
) -> None:
    """`check_free` for a PATCH: only when `changes` sets `column`; `row` itself does not count."""
    if column.key in changes:
        await check_free(session, column, changes[column.key], taken, exclude_id=row.id)


async def add_unique(session: AsyncSession, row: Any, column: Column, taken: str) -> None:
    """Insert `row` and flush; a `column` value another row holds is a 409 `taken`."""
    value = getattr(row, column.key)
    await check_free(session, column, value, taken)
    session.add(row)
    await flush_or_conflict(session, taken.format(value), field=column.key)


async def save_unique_changes(
    session: AsyncSession, row: Any, changes: Mapping[str, Any], column: Column, taken: str
) -> None:
    """`save_changes` for a row whose `column` is unique; a taken value is a 409 `taken`."""
    await check_change_free(session, row, changes, column, taken)
    value = changes.get(column.key, getattr(row, column.key))
    await save_changes(session, row, changes, taken.format(value), field=column.key)
