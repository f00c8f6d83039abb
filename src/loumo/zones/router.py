"""HTTP routes of delivery zones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from loumo.core.auth import holds_any
from loumo.core.crud import CrudRoutes
from loumo.core.responses import described
from loumo.core.schemas import Id
from loumo.zones import service
from loumo.zones.schemas import ZoneCreate, ZoneRead, ZoneUpdate

router = APIRouter(prefix="/zones", tags=["zones"])
ZONES_WRITE = "zones:write"
ZoneId = Annotated[Id, Path(description="A zone id")]
TAKEN = described({409: "The name is taken"})
SeesInactive = Annotated[bool, Depends(holds_any(ZONES_WRITE))]  # staff see all
INACTIVE = {"include_inactive": SeesInactive}
zone_routes = CrudRoutes(router, "/{zone_id}", ZoneRead, id=ZoneId, policy="permission:zones:write")


zone_routes.cached_list(
    service.list_zones,
    summary="Delivery zones (active ones; staff see all)",
    description="Every zone, by name, in one page (`next_cursor` is null).",
    keywords=INACTIVE,
)


zone_routes.get(service.get_zone, summary="One delivery zone", policy="public", keywords=INACTIVE)
zone_routes.create(
    service.create_zone, ZoneCreate, summary="Create a zone (staff)", responses=TAKEN
)
zone_routes.update(
    service.update_zone, ZoneUpdate, summary="Change a zone (staff)", responses=TAKEN
)
zone_routes.delete(
    service.delete_zone,
    summary="Delete a zone (staff)",
    description="A zone that shops, addresses or orders still refer to is deactivated instead.",
)
