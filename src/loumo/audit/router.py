"""`GET /audit-log`: the operation log, for auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from loumo.audit import service
from loumo.audit.schemas import AuditEntryRead, AuditQuery
from loumo.core.auth import Principal, require
from loumo.core.db import SessionDep
from loumo.core.pagination import Page
from loumo.core.policy import policy

router = APIRouter(tags=["audit"])


@router.get(
    "/audit-log",
    summary="Audit rows, newest first, filtered by actor, action or entity",
    **policy("permission:audit:read"),
)
async def list_audit_log(
    session: SessionDep,
    _: Annotated[Principal, Depends(require("audit:read"))],
    query: Annotated[AuditQuery, Query()],
) -> Page[AuditEntryRead]:
    return await service.list_entries(session, query)
