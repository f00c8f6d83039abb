"""Cursor (keyset) pagination: opaque cursors, a capped limit, and the list envelope."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from loumo.core.errors import BadRequest
from loumo.core.schemas import INT_MAX, INT_MIN

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    """A page of a list; pass `next_cursor` back as `cursor` to get the next one."""

    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(BadRequest):
    code, title = "invalid_cursor", "Invalid cursor"


def encode_cursor(values: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _storable(value: Any) -> bool:
    """Whether every value of a decoded cursor can be a query parameter: no NUL in a string,
    no integer beyond the integer columns' range (a forged cursor must not reach the database)."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return INT_MIN <= value <= INT_MAX
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """Decode a cursor made by `encode_cursor`; anything else is a 400, never a 500."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise InvalidCursor("The cursor is not one this API issued") from None
    if not isinstance(value, dict) or not _storable(value):
        raise InvalidCursor("The cursor is not one this API issued")
    return value


def id_cursor(scope: str, last_id: str) -> str:
    """The cursor after `last_id` in an id-ordered list (`scope` names the list; see `id_after`)."""
    return encode_cursor({"s": scope, "id": last_id})


def id_after(cursor: str | None, scope: str) -> str:
    """The last id of an id-ordered list's cursor made as `{"s": scope, "id": ...}`.

    A cursor of another list (another scope) is a 400, so it cannot page the wrong list.
    """
    values = decode_cursor(cursor) or {}
    last = values.get("id")
    if values.get("s") != scope or not isinstance(last, str):
        raise InvalidCursor("The cursor does not belong to this list")
    return last


def cut_page(
    rows: Sequence[R], limit: int, cursor_after: Callable[[R], str]
) -> tuple[list[R], str | None]:
    """A page of `rows` read with `.limit(limit + 1)` (the extra row tells that more follow): the
    first `limit` rows and the cursor after the last of them, None at the end of the list."""
    if len(rows) <= limit:
        return list(rows), None
    return list(rows[:limit]), cursor_after(rows[limit - 1])


LimitParam = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT})")
]
CursorParam = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page")
]


def position_of(row: Any) -> str:
    """A cursor after `row` in newest-first (created_at, id) order."""
    return encode_cursor({"t": row.created_at.isoformat(), "id": row.id})


def after_position(
    created_at: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[str],
    position: dict[str, Any],
) -> ColumnElement[bool]:
    """Rows that come after `position` in newest-first (created_at, id) order."""
    try:
        moment = datetime.fromisoformat(str(position["t"]))
        last_id = str(position["id"])
        # An instant whose UTC time falls outside the years 1-9999 cannot be sent to the
        # database (a forged "0001-01-01T00:00:00+05:00"): refused here.
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (KeyError, ValueError, OverflowError):
        raise InvalidCursor("The cursor is not one this API issued") from None
    return or_(created_at < moment, and_(created_at == moment, id_ < last_id))
