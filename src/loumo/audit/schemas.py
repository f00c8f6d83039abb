"""Audit log I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from loumo.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam
from loumo.core.schemas import Read

Filter = Annotated[str | None, Field(pattern=r"^[\x20-\x7e]{1,100}$")]


class AuditQuery(BaseModel):
    """Filters of `GET /audit-log` (its query parameters)."""

    actor_id: Filter = None
    action: Filter = None
    entity_type: Filter = None
    entity_id: Filter = None
    cursor: CursorParam = None
    limit: LimitParam = DEFAULT_LIMIT


class AuditEntryRead(Read):
    id: str
    created_at: datetime
    actor_id: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    diff: dict[str, Any]
