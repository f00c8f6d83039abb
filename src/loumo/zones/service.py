"""Zones: where orders are delivered, and at what fee."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import flush_or_conflict, is_taken, save_changes, visible
from loumo.core.errors import Conflict, NotFound
from loumo.core.pagination import Page
from loumo.zones.models import Zone
from loumo.zones.schemas import ZoneCreate, ZoneRead, ZoneUpdate


async def list_zones(session: AsyncSession, *, include_inactive: bool) -> Page[ZoneRead]:
    """Every zone by name, in one page: a marketplace serves a handful of zones."""
    stmt = visible(
        select(Zone).order_by(Zone.name, Zone.id), Zone.is_active, include_inactive=include_inactive
    )
    zones = (await session.scalars(stmt)).all()
    return Page[ZoneRead](items=[ZoneRead.model_validate(z) for z in zones])


async def _get_zone(session: AsyncSession, zone_id: str, *, include_inactive: bool) -> Zone:
    zone = await session.get(Zone, zone_id)
    if zone is None or not (include_inactive or zone.is_active):
        raise NotFound(f"No zone {zone_id}")
    return zone


async def get_zone(session: AsyncSession, zone_id: str, *, include_inactive: bool) -> ZoneRead:
    return ZoneRead.model_validate(
        await _get_zone(session, zone_id, include_inactive=include_inactive)
    )


async def is_active_zone(session: AsyncSession, zone_id: str) -> bool:
    """Whether orders can be delivered into this zone today (addresses must sit in one)."""
    found = await session.scalar(select(Zone.id).where(Zone.id == zone_id, Zone.is_active))
    return found is not None


async def create_zone(session: AsyncSession, data: ZoneCreate) -> ZoneRead:
    taken = f"A zone is already named '{data.name}'"
    if await is_taken(session, Zone.name, data.name):
        raise Conflict(taken, field="name")
    zone = Zone(**data.model_dump())
    session.add(zone)
    await flush_or_conflict(session, taken, field="name")
    return ZoneRead.model_validate(zone)


async def update_zone(session: AsyncSession, zone_id: str, data: ZoneUpdate) -> ZoneRead:
    zone = await _get_zone(session, zone_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True)
    taken = f"A zone is already named '{changes.get('name', zone.name)}'"
    if "name" in changes and await is_taken(
        session, Zone.name, changes["name"], exclude_id=zone.id
    ):
        raise Conflict(taken, field="name")
    await save_changes(session, zone, changes, taken, field="name")
    return ZoneRead.model_validate(zone)


async def delete_zone(session: AsyncSession, zone_id: str) -> bool:
    """Delete a zone, or deactivate it when shops, addresses or orders still refer to it.

    Returns True when the row was deleted. The delete runs in a savepoint so that a foreign-key
    refusal (from any package referring to zones) leaves the unit of work usable.
    """
    zone = await _get_zone(session, zone_id, include_inactive=True)
    try:
        async with session.begin_nested():
            await session.delete(zone)
            await session.flush()
    except IntegrityError:
        zone = await _get_zone(session, zone_id, include_inactive=True)
        zone.is_active = False
        await session.flush()
        return False
    return True
