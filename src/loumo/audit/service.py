"""Writing and reading the audit log. Any domain may record; only auditors may read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.models import AuditEntry
from loumo.audit.schemas import AuditEntryRead, AuditQuery
from loumo.core.pagination import Page, after_position, cut_page, decode_cursor, position_of

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"pass|secret|token|code|hash|otp|key", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Where a request came from, for the audit trail."""

    ip: str | None = None
    user_agent: str | None = None


def redact(value: Any) -> Any:
    """A copy of `value` where every field named like a secret is replaced by a marker."""
    if isinstance(value, dict):
        return {
            str(k): REDACTED if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`{field: [old, new]}` for the fields whose value changed."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


async def record(
    session: AsyncSession,
    meta: RequestMeta | None,
    action: str,
    *,
    actor_id: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    diff: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the caller's unit of work (secrets in `diff` are redacted)."""
    meta = meta or RequestMeta()
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        ip=meta.ip[:64] if meta.ip else None,
        user_agent=meta.user_agent[:400] if meta.user_agent else None,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        diff=redact(diff or {}),
    )
    session.add(entry)
    await session.flush()
    return entry


async def list_entries(session: AsyncSession, query: AuditQuery) -> Page[AuditEntryRead]:
    """Newest first, filtered; `next_cursor` continues after the last row."""
    limit = query.limit
    stmt = (
        select(AuditEntry)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit + 1)
    )
    if query.actor_id:
        stmt = stmt.where(AuditEntry.actor_id == query.actor_id)
    if query.action:
        stmt = stmt.where(AuditEntry.action == query.action)
    if query.entity_type:
        stmt = stmt.where(AuditEntry.entity_type == query.entity_type)
    if query.entity_id:
        stmt = stmt.where(AuditEntry.entity_id == query.entity_id)
    position = decode_cursor(query.cursor)
    if position is not None:
        stmt = stmt.where(after_position(AuditEntry.created_at, AuditEntry.id, position))
    rows, next_cursor = cut_page((await session.scalars(stmt)).all(), limit, position_of)
    items = [AuditEntryRead.model_validate(r) for r in rows]
    return Page[AuditEntryRead](items=items, next_cursor=next_cursor)
