"""The write kits of `loumo.core`: unique columns (`core.unique`) and once-only stamps
(`core.once`)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import AuthSession
from loumo.core.db import utcnow
from loumo.core.errors import Conflict
from loumo.core.once import stamp_once
from loumo.core.unique import add_unique, check_change_free, check_free, save_unique_changes
from loumo.zones.models import Zone
from tests.factories import create_user, create_zone

TAKEN = "A zone is already named '{}'"


async def test_check_free_names_the_value_and_the_field(db: AsyncSession) -> None:
    zone = await create_zone(db, name="Akwa")
    await check_free(db, Zone.name, "Deido", TAKEN)
    await check_free(db, Zone.name, "Akwa", TAKEN, exclude_id=zone.id)
    with pytest.raises(Conflict) as caught:
        await check_free(db, Zone.name, "Akwa", TAKEN)
    assert caught.value.detail == "A zone is already named 'Akwa'"
    assert caught.value.extra == {"field": "name"}


async def test_check_change_free_looks_only_at_a_changed_column(db: AsyncSession) -> None:
    await create_zone(db, name="Akwa")
    zone = await create_zone(db, name="Bonanjo")
    await check_change_free(db, zone, {"delivery_fee": 700}, Zone.name, TAKEN)
    await check_change_free(db, zone, {"name": "Bonanjo"}, Zone.name, TAKEN)
    with pytest.raises(Conflict):
        await check_change_free(db, zone, {"name": "Akwa"}, Zone.name, TAKEN)


async def test_add_unique_inserts_or_refuses_a_taken_value(db: AsyncSession) -> None:
    await create_zone(db, name="Akwa")
    await add_unique(db, Zone(name="Deido", delivery_fee=100), Zone.name, TAKEN)
    with pytest.raises(Conflict) as caught:
        await add_unique(db, Zone(name="Akwa", delivery_fee=100), Zone.name, TAKEN)
    assert caught.value.detail == "A zone is already named 'Akwa'"
    await db.rollback()
    assert await db.scalar(select(Zone.id).where(Zone.name == "Deido")) is None  # rolled back


async def test_save_unique_changes_saves_or_refuses_a_taken_value(db: AsyncSession) -> None:
    await create_zone(db, name="Akwa")
    zone = await create_zone(db, name="Bonanjo")
    await save_unique_changes(db, zone, {"name": "Deido"}, Zone.name, TAKEN)
    assert await db.scalar(select(Zone.name).where(Zone.id == zone.id)) == "Deido"
    with pytest.raises(Conflict) as caught:
        await save_unique_changes(db, zone, {"name": "Akwa"}, Zone.name, TAKEN)
    assert caught.value.extra == {"field": "name"}
    await db.rollback()


async def test_stamp_once_is_won_by_the_first_caller_only(db: AsyncSession) -> None:
    user = await create_user(db)
    auth = AuthSession(user_id=user.id)
    db.add(auth)
    await db.commit()
    assert await stamp_once(db, AuthSession.revoked_at, auth.id, utcnow())
    assert not await stamp_once(db, AuthSession.revoked_at, auth.id, utcnow())
    await db.commit()
    assert await db.scalar(select(AuthSession.revoked_at).where(AuthSession.id == auth.id))
