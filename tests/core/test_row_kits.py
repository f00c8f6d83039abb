"""One row or a 404 (`core.lookup`) and the guarded UPDATE of a loaded row (`core.once`)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.errors import NotFound
from loumo.core.lookup import get_or_raise, one_or_raise
from loumo.core.once import rows_changed, update_if
from loumo.zones.models import Zone
from tests.factories import create_zone


async def test_get_or_raise_reloads_the_row_or_raises_the_given_error(db: AsyncSession) -> None:
    zone = await create_zone(db, delivery_fee=500)
    await db.execute(
        update(Zone)
        .where(Zone.id == zone.id)
        .values(delivery_fee=900)
        .execution_options(synchronize_session=False)
    )
    assert (await get_or_raise(db, Zone, zone.id, NotFound("none"))).delivery_fee == 900
    with pytest.raises(NotFound) as caught:
        await get_or_raise(db, Zone, "nothing-here", NotFound("No zone nothing-here"))
    assert caught.value.detail == "No zone nothing-here"


async def test_one_or_raise_applies_the_query_conditions(db: AsyncSession) -> None:
    zone = await create_zone(db, name="Akwa")
    found = await one_or_raise(
        db, select(Zone).where(Zone.id == zone.id, Zone.name == "Akwa"), NotFound("none")
    )
    assert found.id == zone.id
    with pytest.raises(NotFound):
        await one_or_raise(
            db, select(Zone).where(Zone.id == zone.id, Zone.name == "Deido"), NotFound("none")
        )


async def test_update_if_writes_only_while_the_condition_holds(db: AsyncSession) -> None:
    zone = await create_zone(db, delivery_fee=500)
    assert await update_if(db, zone, Zone.delivery_fee == 500, delivery_fee=700)
    assert zone.delivery_fee == 700
    assert not await update_if(db, zone, Zone.delivery_fee == 500, delivery_fee=800)
    assert zone.delivery_fee == 700
    await db.commit()
    assert await db.scalar(select(Zone.delivery_fee).where(Zone.id == zone.id)) == 700


async def test_rows_changed_counts_the_rows_of_a_statement(db: AsyncSession) -> None:
    first = await create_zone(db, delivery_fee=500)
    await create_zone(db, delivery_fee=500)
    assert await rows_changed(db, update(Zone).values(delivery_fee=600)) == 2
    assert await rows_changed(db, delete(Zone).where(Zone.id == first.id)) == 1
    assert await rows_changed(db, delete(Zone).where(Zone.id == first.id)) == 0
