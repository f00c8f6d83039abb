"""HTTP routes of delivery zones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from loumo.core.auth import OptionalPrincipal, Principal, require, sees_inactive
from loumo.core.db import SessionDep
from loumo.core.http_cache import CachedRead, cacheable
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.responses import no_content
from loumo.core.schemas import Id
from loumo.zones import service
from loumo.zones.schemas import ZoneCreate, ZoneRead, ZoneUpdate

router = APIRouter(prefix="/zones", tags=["zones"])
ZONES_WRITE = "zones:write"
ZoneWriter = Annotated[Principal, Depends(require(ZONES_WRITE))]
ZoneId = Annotated[Id, Path(description="A zone id")]


@router.get(
    "",
    summary="Delivery zones (active ones; staff see all)",
    description="Every zone, by name, in one page (`next_cursor` is null).",
    **cacheable(Page[ZoneRead]),
    **policy("public"),
)
async def list_zones(
    session: SessionDep, principal: OptionalPrincipal, cached: CachedRead
) -> Response:
    return cached(
        await service.list_zones(session, include_inactive=sees_inactive(principal, ZONES_WRITE))
    )


@router.get("/{zone_id}", summary="One delivery zone", **policy("public"))
async def get_zone(zone_id: ZoneId, session: SessionDep, principal: OptionalPrincipal) -> ZoneRead:
    return await service.get_zone(
        session, zone_id, include_inactive=sees_inactive(principal, ZONES_WRITE)
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a zone (staff)",
    responses={409: {"description": "The name is taken"}},
    **policy("permission:zones:write"),
)
async def create_zone(data: ZoneCreate, session: SessionDep, _: ZoneWriter) -> ZoneRead:
    return await service.create_zone(session, data)


@router.patch(
    "/{zone_id}",
    summary="Change a zone (staff)",
    responses={409: {"description": "The name is taken"}},
    **policy("permission:zones:write"),
)
async def update_zone(
    zone_id: ZoneId, data: ZoneUpdate, session: SessionDep, _: ZoneWriter
) -> ZoneRead:
    return await service.update_zone(session, zone_id, data)


@router.delete(
    "/{zone_id}",
    summary="Delete a zone (staff)",
    description="A zone that shops, addresses or orders still refer to is deactivated instead.",
    **no_content(),
    **policy("permission:zones:write"),
)
async def delete_zone(zone_id: ZoneId, session: SessionDep, _: ZoneWriter) -> None:
    await service.delete_zone(session, zone_id)
