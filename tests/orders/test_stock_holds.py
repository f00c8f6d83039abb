"""Stock held by a checkout before its order exists (`shops.reservations.hold`): all lines or
none, kept by the order's commit, given back when the checkout fails after holding, and given
back by the `stock.release_holds` job when its process died, never while its order is being
written. On SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from tests.orders.conftest import API, World, key, stock_of

from loumo.core.db import Database, utcnow
from loumo.core.ids import new_id
from loumo.jobs.registry import schedules
from loumo.orders import checkout
from loumo.orders.models import Order
from loumo.shops import reservations
from loumo.shops.errors import StockHoldLost
from loumo.shops.models import StockHold
from loumo.shops.tasks import RELEASE_HOLDS_JOB


async def _holds(db: AsyncSession) -> int:
    count = await db.scalar(select(func.count()).select_from(StockHold))
    await db.commit()
    return int(count or 0)


async def test_a_hold_takes_every_line_or_none(world: World, db: AsyncSession) -> None:
    short = [(world.shop_a, world.a1, 2), (world.shop_b, world.b1, 11)]  # 10 of each in stock
    assert await reservations.hold(db, new_id(), short) is False
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)
    assert await stock_of(db, world.shop_b, world.b1) == (10, 0)
    assert await _holds(db) == 0

    holder = new_id()
    lines = [(world.shop_b, world.b1, 10), (world.shop_a, world.a1, 2)]
    assert await reservations.hold(db, holder, lines) is True
    # Committed at once, before any order: visible to every other connection.
    assert await stock_of(db, world.shop_a, world.a1) == (10, 2)
    assert await stock_of(db, world.shop_b, world.b1) == (10, 10)
    assert await _holds(db) == 2
    with pytest.raises(ValueError):
        await reservations.hold(db, new_id(), [(world.shop_a, world.a1, 1)] * 2)


async def test_kept_holds_become_the_order_and_let_go_ones_come_back(
    world: World, db: AsyncSession
) -> None:
    kept, failed = new_id(), new_id()
    assert await reservations.hold(db, kept, [(world.shop_a, world.a1, 3)])
    assert await reservations.hold(db, failed, [(world.shop_a, world.a1, 4)])
    await reservations.keep(db, kept, 1)
    await db.commit()
    await reservations.keep(db, failed, 1)
    await db.rollback()  # the order's transaction failed: its hold is back
    assert await _holds(db) == 1
    assert await reservations.let_go(db, failed) == 1
    assert await reservations.let_go(db, failed) == 0  # once
    assert await reservations.let_go(db, kept) == 0  # a committed order holds nothing
    assert await stock_of(db, world.shop_a, world.a1) == (10, 3)
    assert await _holds(db) == 0
    with pytest.raises(StockHoldLost):  # its hold went meanwhile
        await reservations.keep(db, failed, 1)
    await db.rollback()


async def test_the_job_gives_back_stale_holds_only(world: World, db: AsyncSession) -> None:
    stale, fresh = new_id(), new_id()
    assert await reservations.hold(db, stale, [(world.shop_a, world.a1, 2)])
    assert await reservations.hold(db, fresh, [(world.shop_a, world.a1, 1)])
    await db.execute(
        update(StockHold)
        .where(StockHold.holder_id == stale)
        .values(created_at=utcnow() - timedelta(minutes=5))
    )
    await db.commit()
    cutoff = utcnow() - timedelta(seconds=60)
    assert await reservations.release_stale(db, held_before=cutoff) == 1
    await db.commit()
    assert await reservations.release_stale(db, held_before=cutoff) == 0
    await db.commit()
    assert await stock_of(db, world.shop_a, world.a1) == (10, 1)
    assert RELEASE_HOLDS_JOB in {s.name for s in schedules()}


async def test_the_job_skips_a_hold_whose_order_is_being_written(
    world: World, db: AsyncSession, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the job waits for the order's commit")
    holder = new_id()
    assert await reservations.hold(db, holder, [(world.shop_a, world.a1, 2)])
    later = utcnow() + timedelta(minutes=5)  # as if the order took longer than the hold's age
    other = Database(database_url)
    try:
        async with other.sessionmaker() as writing:
            await reservations.keep(writing, holder, 1)  # the order's transaction, not committed
            assert await reservations.release_stale(db, held_before=later) == 0
            await db.commit()
            await writing.commit()
    finally:
        await other.dispose()
    assert await stock_of(db, world.shop_a, world.a1) == (10, 2)  # the order's reservation
    assert await _holds(db) == 0


async def test_a_checkout_failing_after_its_hold_gives_the_stock_back(
    client: httpx.AsyncClient, world: World, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every order reference drawn is the same one: the second order cannot get a reference
    after its stock is held (a failure of the order's transaction), and holds nothing after."""
    monkeypatch.setattr(secrets, "choice", lambda alphabet: alphabet[0])
    body = world.basket((world.a1, world.shop_a, 2), (world.b1, world.shop_b, 1))
    first = await client.post(f"{API}/orders", json=body, headers={**world.buyer.headers, **key()})
    assert first.status_code == 201, first.text
    second = await client.post(f"{API}/orders", json=body, headers={**world.buyer.headers, **key()})
    assert second.status_code == 400, second.text
    assert "reference" in second.json()["detail"]
    assert await db.scalar(select(func.count()).select_from(Order)) == 1
    assert await stock_of(db, world.shop_a, world.a1) == (10, 2)  # the first order's only
    assert await stock_of(db, world.shop_b, world.b1) == (10, 1)
    assert await _holds(db) == 0


async def test_an_order_whose_reference_is_taken_draws_another_and_keeps_its_stock(
    client: httpx.AsyncClient, world: World, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order's writes fail together on the taken reference (rolled back, holds back), and
    the next try, under a new reference, keeps the same holds."""
    drawn = iter(["LM-222222", "LM-222222", "LM-333333"])
    monkeypatch.setattr(checkout, "_draw_reference", lambda: next(drawn))
    body = world.basket((world.a1, world.shop_a, 2), (world.b1, world.shop_b, 1))
    first = await client.post(f"{API}/orders", json=body, headers={**world.buyer.headers, **key()})
    second = await client.post(f"{API}/orders", json=body, headers={**world.buyer.headers, **key()})
    assert first.status_code == second.status_code == 201, second.text
    assert [first.json()["reference"], second.json()["reference"]] == ["LM-222222", "LM-333333"]
    assert len(second.json()["items"]) == 2
    assert await stock_of(db, world.shop_a, world.a1) == (10, 4)
    assert await stock_of(db, world.shop_b, world.b1) == (10, 2)
    assert await _holds(db) == 0


async def test_a_hold_lost_before_the_order_is_written_is_a_409_and_writes_nothing(
    client: httpx.AsyncClient, world: World, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holds given back between the hold and the order's writes (as the job does to a
    checkout it takes for dead): the order's writes fail together, the key is free again."""
    real_hold = reservations.hold

    async def hold_then_lose(session: AsyncSession, holder_id: str, lines: Any) -> bool:
        held = await real_hold(session, holder_id, lines)
        await reservations.let_go(session, holder_id)
        return held

    monkeypatch.setattr(reservations, "hold", hold_then_lose)
    body = world.basket((world.a1, world.shop_a, 2), (world.b1, world.shop_b, 1))
    headers = {**world.buyer.headers, **key()}
    lost = await client.post(f"{API}/orders", json=body, headers=headers)
    assert lost.status_code == 409, lost.text
    assert lost.json()["code"] == "stock_hold_lost"
    assert await db.scalar(select(func.count()).select_from(Order)) == 0
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)
    assert await _holds(db) == 0
    monkeypatch.setattr(reservations, "hold", real_hold)
    again = await client.post(f"{API}/orders", json=body, headers=headers)  # the same key
    assert again.status_code == 201, again.text
    assert await stock_of(db, world.shop_a, world.a1) == (10, 2)
