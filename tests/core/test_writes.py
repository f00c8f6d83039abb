"""`loumo.core.writes`: new rows and conditional statements gathered by `writes_together` and
written when the block ends, in one statement on PostgreSQL, one each on SQLite; nothing
written when the block or a check fails. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import Database, autocommit, table_of
from loumo.core.writes import insert_new, write, writes_together
from loumo.shops.models import Shop
from loumo.zones.models import Zone
from tests.factories import count_statements

_RENAME = (
    update(table_of(Zone))
    .where(table_of(Zone).c.name == bindparam("old_name"))
    .values(name=bindparam("new_name"))
)
_DROP = delete(table_of(Shop)).where(table_of(Shop).c.slug == bindparam("slug"))


class Missing(Exception):
    pass


def _is_postgres(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


async def _zones(db: AsyncSession) -> list[str]:
    return list(await db.scalars(select(Zone.name).order_by(Zone.name)))


async def test_rows_and_the_rows_naming_them_are_written_when_the_block_ends(
    db: AsyncSession,
    app: FastAPI,
) -> None:
    await insert_new(db, [Zone(name="Plain")])  # outside a block: at once
    await db.commit()
    zone = Zone(name="Akwa", localities=["Akwa Nord"], delivery_fee=500)
    with count_statements(app) as seen:
        async with writes_together(db):
            await insert_new(db, [zone])
            await insert_new(db, [Shop(name="A", slug="a", zone_id=zone.id)])
            await insert_new(db, [Shop(name="B", slug="b", zone_id=zone.id)])
            await write(
                db, _RENAME, {"old_name": "Plain", "new_name": "Plain 2"}, expect=(1, Missing)
            )
            assert seen == []  # gathered, not written
        # One statement on PostgreSQL (the shops in one insert), one per table and statement else.
        assert len(seen) == (1 if _is_postgres(db) else 3)
    await db.commit()
    assert await _zones(db) == ["Akwa", "Plain 2"]
    shops = (await db.execute(select(Shop.slug, Shop.zone_id).order_by(Shop.slug))).all()
    assert [tuple(s) for s in shops] == [("a", zone.id), ("b", zone.id)]
    stored = await db.get(Zone, zone.id, populate_existing=True)
    assert stored is not None
    assert (stored.localities, stored.delivery_fee, stored.created_at) == (
        ["Akwa Nord"],
        500,
        zone.created_at,
    )
    # A JSON column's None is stored as a Core insert stores it, whichever way it was written.
    nulls = await db.execute(text("SELECT name, polygon IS NULL FROM zones ORDER BY name"))
    assert [tuple(row) for row in nulls] == [("Akwa", False), ("Plain 2", False)]


async def test_a_failed_check_fails_the_block_and_its_rollback_leaves_nothing(
    db: AsyncSession,
) -> None:
    with pytest.raises(Missing):
        async with writes_together(db):
            await insert_new(db, [Zone(name="Bonapriso")])
            await write(db, _DROP, {"slug": "none-such"}, expect=(1, Missing))
    await db.rollback()
    assert await _zones(db) == []


async def test_an_error_inside_the_block_writes_nothing(db: AsyncSession, app: FastAPI) -> None:
    with count_statements(app) as seen, pytest.raises(RuntimeError):
        async with writes_together(db):
            await insert_new(db, [Zone(name="Deido")])
            raise RuntimeError("the work failed")
    assert seen == []
    await insert_new(db, [Zone(name="Bali")])  # no block open any more: at once
    await db.commit()
    assert await _zones(db) == ["Bali"]


async def test_a_block_inside_another_joins_it(db: AsyncSession, app: FastAPI) -> None:
    with count_statements(app) as seen:
        async with writes_together(db):
            async with writes_together(db):
                await insert_new(db, [Zone(name="Inner")])
            assert seen == []  # the outer block writes
            await insert_new(db, [Zone(name="Outer")])
        assert len(seen) == 1  # one table, one statement
    await db.commit()
    assert await _zones(db) == ["Inner", "Outer"]


async def test_outside_a_block_write_runs_and_checks_at_once(db: AsyncSession) -> None:
    await insert_new(db, [Zone(name="Logpom")])
    await write(db, _RENAME, {"old_name": "Logpom", "new_name": "Logbaba"}, expect=(1, Missing))
    with pytest.raises(Missing):
        await write(db, _RENAME, {"old_name": "Logpom", "new_name": "X"}, expect=(1, Missing))
    await db.commit()
    assert await db.scalar(select(func.count()).select_from(Zone)) == 1
    assert await _zones(db) == ["Logbaba"]


async def test_a_failed_expectation_leaves_nothing_even_in_autocommit(
    db: AsyncSession, app: FastAPI
) -> None:
    """On PostgreSQL the block is one statement, which the failed expectation fails whole: no
    transaction is needed to undo it (SQLite keeps the block in the session's transaction)."""
    await autocommit(db)
    with pytest.raises(Missing):
        async with writes_together(db):
            await insert_new(db, [Zone(name="Bonamoussadi")])
            await write(db, _DROP, {"slug": "none-such"}, expect=(1, Missing))
    database: Database = app.state.db
    async with database.sessionmaker() as other:
        assert await other.scalar(select(func.count()).select_from(Zone)) == 0
    await db.rollback()
