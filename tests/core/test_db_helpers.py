"""The shared service helpers of `loumo.core`: flush-or-409, taken values, saving a PATCH, staff
visibility, id cursors, Core inserts of new objects."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.auth import Principal, sees_inactive
from loumo.core.db import (
    flush_or_conflict,
    is_taken,
    locked_value,
    save_changes,
    visible,
)
from loumo.core.errors import Conflict
from loumo.core.pagination import InvalidCursor, encode_cursor, id_after
from loumo.core.writes import insert_new
from loumo.zones.models import Zone
from tests.factories import create_zone


class NameTaken(Conflict):
    code = "name_taken"


async def test_a_unique_conflict_at_flush_is_a_409_with_the_field(db: AsyncSession) -> None:
    await create_zone(db, name="Akwa")
    db.add(Zone(name="Akwa", delivery_fee=100))
    with pytest.raises(NameTaken) as caught:
        await flush_or_conflict(db, "A zone is already named 'Akwa'", field="name", error=NameTaken)
    assert caught.value.status == 409
    assert caught.value.extra == {"field": "name"}
    assert caught.value.detail == "A zone is already named 'Akwa'"
    await db.rollback()
    assert len((await db.scalars(select(Zone))).all()) == 1


async def test_a_flush_without_conflict_passes(db: AsyncSession) -> None:
    db.add(Zone(name="Bonapriso", delivery_fee=100))
    await flush_or_conflict(db, "never said")
    assert (await db.scalar(select(Zone.name))) == "Bonapriso"


async def test_is_taken_looks_at_other_rows_only(db: AsyncSession) -> None:
    zone = await create_zone(db, name="Akwa")
    assert await is_taken(db, Zone.name, "Akwa")
    assert not await is_taken(db, Zone.name, "Akwa", exclude_id=zone.id)
    assert not await is_taken(db, Zone.name, "Deido")


async def test_save_changes_sets_flushes_and_turns_a_race_into_a_409(db: AsyncSession) -> None:
    await create_zone(db, name="Akwa")
    zone = await create_zone(db, name="Bonanjo", delivery_fee=500)
    await save_changes(db, zone, {"delivery_fee": 700}, "never said")
    assert await db.scalar(select(Zone.delivery_fee).where(Zone.id == zone.id)) == 700
    with pytest.raises(Conflict) as caught:
        await save_changes(db, zone, {"name": "Akwa"}, "A zone is named 'Akwa'", field="name")
    assert caught.value.extra == {"field": "name"}
    await db.rollback()


async def test_visible_hides_inactive_rows_unless_asked(db: AsyncSession) -> None:
    await create_zone(db, name="Open")
    await create_zone(db, name="Closed", is_active=False)
    stmt = select(Zone.name).order_by(Zone.name)
    public = visible(stmt, Zone.is_active, include_inactive=False)
    staff = visible(stmt, Zone.is_active, include_inactive=True)
    assert (await db.scalars(public)).all() == ["Open"]
    assert (await db.scalars(staff)).all() == ["Closed", "Open"]


def test_only_holders_of_the_write_permission_see_inactive_rows() -> None:
    assert not sees_inactive(None, "zones:write")
    assert not sees_inactive(Principal("u1", permissions=frozenset({"shops:write"})), "zones:write")
    assert sees_inactive(Principal("u1", permissions=frozenset({"zones:write"})), "zones:write")
    assert sees_inactive(Principal("u1", permissions=frozenset({"*"})), "zones:write")


async def test_locked_value_reads_the_column_as_it_is_in_the_database(db: AsyncSession) -> None:
    zone = await create_zone(db, name="Deido", delivery_fee=500)
    async with db.bind.connect() as other:  # type: ignore[union-attr]
        await other.execute(update(Zone).values(delivery_fee=700))
        await other.commit()
    assert zone.delivery_fee == 500
    assert await locked_value(db, zone, "delivery_fee") == 700
    assert zone.delivery_fee == 700


def test_id_after_reads_its_own_scope_only() -> None:
    cursor = encode_cursor({"s": "shops", "id": "01ABC"})
    assert id_after(cursor, "shops") == "01ABC"
    with pytest.raises(InvalidCursor):
        id_after(cursor, "stock:01XYZ")
    with pytest.raises(InvalidCursor):
        id_after(encode_cursor({"s": "shops", "id": 3}), "shops")


async def test_insert_new_fills_the_defaults_and_attaches_the_rows(db: AsyncSession) -> None:
    """One Core INSERT; the objects hold every column after and are tracked like loaded rows."""
    zones = [Zone(name="Akwa", delivery_fee=100), Zone(name="Deido", delivery_fee=200)]
    await insert_new(db, zones)
    assert all(z.id and z.created_at is not None and z.is_active for z in zones)
    assert all(inspect(z).persistent for z in zones)
    zones[0].delivery_fee = 150  # a change to an attached row is flushed as usual
    await db.flush()
    rows = await db.execute(
        select(Zone.name, Zone.delivery_fee).execution_options(populate_existing=True)
    )
    assert dict(rows.all()) == {"Akwa": 150, "Deido": 200}
