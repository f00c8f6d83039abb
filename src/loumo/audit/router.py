"""`GET /audit-log`: the operation log, for auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from loumo.audit import service
from loumo.audit.schemas import AuditEntryRead
from loumo.core.auth import Principal, require
from loumo.core.db import SessionDep
from loumo.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page
from loumo.core.policy import policy

router = APIRouter(tags=["audit"])
Filter = Annotated[str | None, Query(pattern=r"^[\x20-\x7e]{1,100}$")]


@router.get(
    "/audit-log",
    summary="Audit rows, newest first, filtered by actor, action or entity",
    **policy("permission:audit:read"),
)
async def list_audit_log(
    session: SessionDep,
    _: Annotated[Principal, Depends(require("audit:read"))],
    actor_id: Filter = None,
    action: Filter = None,
    entity_type: Filter = None,
    entity_id: Filter = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> Page[AuditEntryRead]:
    rows, next_cursor = await service.list_entries(
        session,
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        cursor=cursor,
        limit=limit,
    )
    return Page[AuditEntryRead](
        items=[AuditEntryRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )
