"""The caller's own notifications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from loumo.core.auth import CurrentPrincipal
from loumo.core.db import SessionDep
from loumo.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam
from loumo.core.policy import policy
from loumo.core.schemas import Id
from loumo.notifications import service
from loumo.notifications.schemas import NotificationPage, NotificationRead, ReadAllResult

router = APIRouter(prefix="/me/notifications", tags=["notifications"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such notification of yours"}}


@router.get("", summary="My notifications, unread first, with the unread count", **policy("owner"))
async def list_my_notifications(
    principal: CurrentPrincipal,
    session: SessionDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> NotificationPage:
    return await service.list_notifications(session, principal.user_id, cursor=cursor, limit=limit)


@router.post("/read-all", summary="Mark all my notifications read", **policy("owner"))
async def read_all_notifications(principal: CurrentPrincipal, session: SessionDep) -> ReadAllResult:
    updated = await service.mark_all_read(session, principal.user_id)
    return ReadAllResult(updated=updated, unread_count=0)


@router.post(
    "/{notification_id}/read",
    summary="Mark one notification read",
    responses=NOT_FOUND,
    **policy("owner"),
)
async def read_notification(
    principal: CurrentPrincipal,
    session: SessionDep,
    notification_id: Annotated[Id, Path(description="A notification id")],
) -> NotificationRead:
    return await service.mark_read(session, principal.user_id, notification_id)
