"""HTTP routes of delivery zones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from loumo.core.auth import OptionalPrincipal, Principal, require
from loumo.core.db import SessionDep
from loumo.core.http_cache import cached_read
from loumo.core.policy import policy
from loumo.zones import service
from loumo.zones.schemas import ZoneCreate, ZoneRead, ZoneUpdate

router = APIRouter(prefix="/zones", tags=["zones"])
ZoneWriter = Annotated[Principal, Depends(require("zones:write"))]


def _staff(principal: Principal | None) -> bool:
    return principal is not None and principal.has("zones:write")


@router.get(
    "",
    response_model=list[ZoneRead],
    summary="Delivery zones (active ones; staff see all)",
    responses={304: {"description": "Not modified: the `If-None-Match` ETag is still current"}},
    **policy("public"),
)
async def list_zones(
    request: Request, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    zones = await service.list_zones(session, include_inactive=_staff(principal))
    items = [ZoneRead.model_validate(z).model_dump(mode="json") for z in zones]
    return cached_read(request, items, personal=principal is not None)


@router.get("/{zone_id}", summary="One delivery zone", **policy("public"))
async def get_zone(zone_id: str, session: SessionDep, principal: OptionalPrincipal) -> ZoneRead:
    zone = await service.get_zone(session, zone_id, include_inactive=_staff(principal))
    return ZoneRead.model_validate(zone)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a zone (staff)",
    responses={409: {"description": "The name is taken"}},
    **policy("permission:zones:write"),
)
async def create_zone(data: ZoneCreate, session: SessionDep, _: ZoneWriter) -> ZoneRead:
    return ZoneRead.model_validate(await service.create_zone(session, data))


@router.patch("/{zone_id}", summary="Change a zone (staff)", **policy("permission:zones:write"))
async def update_zone(
    zone_id: str, data: ZoneUpdate, session: SessionDep, _: ZoneWriter
) -> ZoneRead:
    return ZoneRead.model_validate(await service.update_zone(session, zone_id, data))


@router.delete(
    "/{zone_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a zone (staff)",
    description="A zone that shops, addresses or orders still refer to is deactivated instead.",
    **policy("permission:zones:write"),
)
async def delete_zone(zone_id: str, session: SessionDep, _: ZoneWriter) -> Response:
    await service.delete_zone(session, zone_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
