"""Zones: where orders are delivered, and at what fee."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import visible
from loumo.core.errors import NotFound
from loumo.core.pagination import Page
from loumo.core.unique import add_unique, save_unique_changes
from loumo.zones.coverage import area, inside, normalise_locality
from loumo.zones.errors import AddressOutsideZone, AddressOutsideZones, UnknownZone
from loumo.zones.models import Zone
from loumo.zones.schemas import ZoneCreate, ZoneRead, ZoneUpdate

NAME_TAKEN = "A zone is already named '{}'"


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


async def check_zone(
    session: AsyncSession, zone_id: str, *, field: str = "zone_id", include_inactive: bool = False
) -> Zone:
    """The zone a body refers to, or 400 `unknown_zone` on `field` (an inactive zone counts as
    unknown unless `include_inactive`): the one check of shops' and addresses' `zone_id`."""
    zone = await session.get(Zone, zone_id)
    if zone is None or not (include_inactive or zone.is_active):
        raise UnknownZone(
            f"No {'' if include_inactive else 'active '}delivery zone has the id {zone_id}",
            field=field,
        )
    return zone


async def check_zones(session: AsyncSession, zone_ids: list[str], *, field: str) -> list[str]:
    """The zones a body lists (inactive ones too), without repeats, in the order given; 400
    `unknown_zone` on `field` naming the first id that is no zone: the list form of
    `check_zone`, in one query."""
    wanted = list(dict.fromkeys(zone_ids))
    if not wanted:
        return []
    found = set(await session.scalars(select(Zone.id).where(Zone.id.in_(wanted))))
    missing = [z for z in wanted if z not in found]
    if missing:
        raise UnknownZone(f"No delivery zone has the id {missing[0]}", field=field)
    return wanted


# --- coverage ----------------------------------------------------------------------------------


def has_coverage(zone: Zone) -> bool:
    """Whether the zone says what it covers (localities or a polygon)."""
    return bool(zone.localities or zone.polygon)


def covers(zone: Zone, locality: str, latitude: float | None, longitude: float | None) -> bool:
    """Whether the zone's coverage includes the address: its polygon holds the coordinates
    (when both are known), or its localities name the address's locality. A zone without
    coverage data covers nothing by itself (see `accepts`)."""
    if (
        zone.polygon
        and latitude is not None
        and longitude is not None
        and inside(zone.polygon, latitude, longitude)
    ):
        return True
    wanted = normalise_locality(locality)
    return any(normalise_locality(name) == wanted for name in zone.localities or ())


def accepts(zone: Zone, locality: str, latitude: float | None, longitude: float | None) -> bool:
    """Whether an address may stay in (or be given) this zone: the zone is active and, when it
    has coverage data, covers the address. A zone without coverage data keeps the addresses
    explicitly assigned to it, as before zones had coverage."""
    return zone.is_active and (
        not has_coverage(zone) or covers(zone, locality, latitude, longitude)
    )


async def zone_for(
    session: AsyncSession, locality: str, latitude: float | None, longitude: float | None
) -> Zone | None:
    """The active zone covering an address, or None.

    A zone whose polygon holds the coordinates wins over one matching by locality; among
    polygons the smallest area wins (the more precise one), then name, then id; among
    localities, name then id. Zones without coverage data are never chosen here.
    """
    zones = (await session.scalars(select(Zone).where(Zone.is_active))).all()
    if latitude is not None and longitude is not None:
        by_area = [z for z in zones if z.polygon and inside(z.polygon, latitude, longitude)]
        if by_area:
            return min(by_area, key=lambda z: (area(z.polygon or []), z.name, z.id))
    wanted = normalise_locality(locality)
    named = [z for z in zones if any(normalise_locality(n) == wanted for n in z.localities or ())]
    return min(named, key=lambda z: (z.name, z.id)) if named else None


async def place(
    session: AsyncSession,
    locality: str,
    latitude: float | None,
    longitude: float | None,
    *,
    zone_id: str | None = None,
    keep: str | None = None,
) -> Zone:
    """The zone an address is saved in: the `zone_id` given, when that zone is active (400
    `unknown_zone` otherwise) and accepts the address (400 `address_outside_zone`); without
    one, the zone it had (`keep`) while that zone accepts it, else the zone `zone_for` finds
    (400 `address_outside_zones` when none covers it)."""
    if zone_id is not None:
        zone = await check_zone(session, zone_id)
        if not accepts(zone, locality, latitude, longitude):
            raise AddressOutsideZone(
                f"The zone '{zone.name}' does not cover this address; leave zone_id out to "
                "place it in the zone that does",
                field="zone_id",
            )
        return zone
    kept = await session.get(Zone, keep) if keep is not None else None
    if kept is not None and accepts(kept, locality, latitude, longitude):
        return kept
    found = await zone_for(session, locality, latitude, longitude)
    if found is None:
        raise AddressOutsideZones("No active delivery zone covers this address", field="locality")
    return found


async def create_zone(session: AsyncSession, data: ZoneCreate) -> ZoneRead:
    zone = Zone(**data.model_dump(mode="json"))
    await add_unique(session, zone, Zone.name, NAME_TAKEN)
    return ZoneRead.model_validate(zone)


async def update_zone(session: AsyncSession, zone_id: str, data: ZoneUpdate) -> ZoneRead:
    zone = await _get_zone(session, zone_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True, mode="json")
    await save_unique_changes(session, zone, changes, Zone.name, NAME_TAKEN)
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
