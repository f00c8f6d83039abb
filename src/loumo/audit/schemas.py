"""Audit log I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loumo.core.schemas import Read


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
