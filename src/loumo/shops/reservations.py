"""Stock held for checkouts: hold, reserve, release, and turn a reservation into a sale.

Each change of a stock row is a conditional UPDATE whose WHERE clause is the rule (never
read-then-write), so that stock is never sold twice whatever the concurrency. A checkout
`hold`s its lines before its order exists (a `StockHold` per line, see its docstring), and the
order's transaction `keep`s them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    String,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import engine_of, in_autocommit, table_of, utcnow
from loumo.core.ids import new_id
from loumo.core.writes import write
from loumo.shops.errors import InsufficientStock, StockHoldLost
from loumo.shops.ledger import record, stock_key
from loumo.shops.models import Stock, StockHold

# Built once (every checkout runs it per line): the values go as parameters.
_RESERVE = (
    update(Stock)
    .where(
        Stock.shop_id == bindparam("r_shop"),
        Stock.variant_id == bindparam("r_variant"),
        Stock.quantity - Stock.reserved >= bindparam("r_qty"),
    )
    .values(
        reserved=Stock.reserved + bindparam("r_qty"),
        updated_at=bindparam("r_now", type_=Stock.updated_at.type),
    )
    .returning(Stock.reserved)
    .execution_options(synchronize_session=False)
)


async def reserve(session: AsyncSession, shop_id: str, variant_id: str, qty: int) -> bool:
    """Hold `qty` units for a checkout; False (and nothing changed) when not enough are free."""
    if qty <= 0:
        raise ValueError("qty must be positive")
    result = await session.execute(
        _RESERVE, {"r_shop": shop_id, "r_variant": variant_id, "r_qty": qty, "r_now": utcnow()}
    )
    return result.first() is not None


# PostgreSQL: every line of a checkout held in one statement, run outside any transaction, so
# that the stock rows (which every buyer of a product writes) are locked for that statement
# only. `locked` takes the row locks in (shop, variant) order (`ORDER BY ... FOR UPDATE` locks
# rows as it emits them), so two checkouts never deadlock, and reads each row's latest version
# once locked (READ COMMITTED); `every_line` makes it all or nothing: unless every line has
# enough free units, `taken` updates no row and nothing is held.
_HOLD_ALL = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(:ids, :shops, :variants, :quantities)
            AS w(hold_id, shop_id, variant_id, qty)
    ), locked AS (
        SELECT s.quantity - s.reserved >= w.qty AS enough FROM stocks AS s
        JOIN wanted AS w ON s.shop_id = w.shop_id AND s.variant_id = w.variant_id
        ORDER BY s.shop_id, s.variant_id
        FOR UPDATE OF s
    ), every_line AS (
        SELECT count(*) FILTER (WHERE enough) = :lines AS ok FROM locked
    ), taken AS (
        UPDATE stocks SET reserved = stocks.reserved + wanted.qty, updated_at = :now
        FROM wanted, every_line
        WHERE every_line.ok
          AND stocks.shop_id = wanted.shop_id AND stocks.variant_id = wanted.variant_id
        RETURNING wanted.hold_id, stocks.shop_id, stocks.variant_id, wanted.qty
    )
    INSERT INTO stock_holds (id, holder_id, shop_id, variant_id, quantity, created_at)
    SELECT hold_id, :holder, shop_id, variant_id, qty, :now FROM taken
    RETURNING shop_id, variant_id
    """
).bindparams(
    bindparam("ids", type_=ARRAY(String)),
    bindparam("shops", type_=ARRAY(String)),
    bindparam("variants", type_=ARRAY(String)),
    bindparam("quantities", type_=ARRAY(Integer)),
    bindparam("now", type_=Stock.updated_at.type),
)
_KEEP = delete(table_of(StockHold)).where(table_of(StockHold).c.holder_id == bindparam("holder"))


class _Short(Exception):
    """A line had too few free units: the hold's transaction rolls back (SQLite)."""


async def hold(
    session: AsyncSession, holder_id: str, lines: Sequence[tuple[str, str, int]]
) -> bool:
    """Hold every (shop, variant, qty) line for `holder_id` (the order being placed), all or
    none, in a short transaction of its own on another connection of the session's engine;
    False (nothing held) when a line has too few free units.

    On PostgreSQL, a session in autocommit (`core.db.autocommit`) runs it itself; any other
    session must hold no connection meanwhile (commit it first): a request never waits for a
    second connection while holding one, or a full pool would wait on itself. What is held
    stays held until the order's transaction `keep`s it, `let_go` gives it back, or
    `release_stale` does once the holder is taken for dead.
    """
    if not lines or any(qty <= 0 for _, _, qty in lines):
        raise ValueError("lines must be given, each with a positive qty")
    keys = [(s, v) for s, v, _ in lines]
    if len(set(keys)) != len(keys):
        raise ValueError("one line per (shop, variant)")
    ordered = sorted(lines)
    now = utcnow()
    engine = engine_of(session)
    if engine.dialect.name == "postgresql":
        params = {
            "ids": [new_id() for _ in ordered],
            "shops": [s for s, _, _ in ordered],
            "variants": [v for _, v, _ in ordered],
            "quantities": [q for _, _, q in ordered],
            "lines": len(ordered),
            "holder": holder_id,
            "now": now,
        }
        if await in_autocommit(session):
            held = (await session.execute(_HOLD_ALL, params)).all()
        else:
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                held = (await connection.execute(_HOLD_ALL, params)).all()
        return len(held) == len(ordered)
    try:
        async with engine.begin() as connection:
            for shop_id, variant_id, qty in ordered:
                taken = await connection.execute(
                    _RESERVE,
                    {"r_shop": shop_id, "r_variant": variant_id, "r_qty": qty, "r_now": now},
                )
                if taken.first() is None:
                    raise _Short
            await connection.execute(
                insert(StockHold),
                [
                    {
                        "id": new_id(),
                        "holder_id": holder_id,
                        "shop_id": shop_id,
                        "variant_id": variant_id,
                        "quantity": qty,
                        "created_at": now,
                    }
                    for shop_id, variant_id, qty in ordered
                ],
            )
    except _Short:
        return False
    return True


async def keep(session: AsyncSession, holder_id: str, lines: int) -> None:
    """In the order's transaction: its holds become the order's reservation (they are deleted
    with the order's commit; a rollback brings them back). Raises `StockHoldLost` when they
    were given back meanwhile (see `release_stale`). Inside `writes_together`, with the order's
    other writes."""
    await write(session, _KEEP, {"holder": holder_id}, expect=(lines, _hold_lost))


def _hold_lost() -> StockHoldLost:
    return StockHoldLost(
        "The stock held for this checkout was given back before its order was written; "
        "place the order again"
    )


async def _give_back(session: AsyncSession, which: ColumnElement[bool]) -> int:
    """Delete the holds `which` selects and give their units back; returns how many holds."""
    gone = (
        await session.execute(
            delete(StockHold)
            .where(which)
            .returning(StockHold.shop_id, StockHold.variant_id, StockHold.quantity)
            .execution_options(synchronize_session=False)
        )
    ).all()
    units: dict[tuple[str, str], int] = defaultdict(int)
    for shop_id, variant_id, qty in gone:
        units[(shop_id, variant_id)] += qty
    for (shop_id, variant_id), qty in sorted(units.items()):  # the hold's lock order
        await release(session, shop_id, variant_id, qty)
    return len(gone)


async def let_go(session: AsyncSession, holder_id: str) -> int:
    """Give back what `holder_id` holds, at once and in a transaction of its own (its checkout
    failed, or its commit may have: a committed order has no holds left, so this finds none).
    The session must hold no connection (roll it back first). Returns how many holds."""
    async with AsyncSession(engine_of(session)) as own, own.begin():
        return await _give_back(own, StockHold.holder_id == holder_id)


async def release_stale(session: AsyncSession, *, held_before: datetime) -> int:
    """Give back the holds made before `held_before` (their checkouts died); returns how many.
    A hold its order's transaction is keeping is locked by it and skipped: if that order
    commits, the hold is gone; if not, a later run gives it back."""
    stale = (
        select(StockHold.id)
        .where(StockHold.created_at < held_before)
        .order_by(StockHold.created_at)
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    return await _give_back(session, StockHold.id.in_(stale.scalar_subquery()))


async def release(session: AsyncSession, shop_id: str, variant_id: str, qty: int) -> None:
    """Give back `qty` reserved units (an abandoned or cancelled checkout)."""
    if qty <= 0:
        raise ValueError("qty must be positive")
    result = await session.execute(
        update(Stock)
        .where(stock_key(shop_id, variant_id), Stock.reserved >= qty)
        .values(reserved=Stock.reserved - qty, updated_at=utcnow())
        .returning(Stock.reserved)
        .execution_options(synchronize_session=False)
    )
    if result.first() is None:
        raise InsufficientStock(f"Fewer than {qty} units are reserved")


async def commit_sale(
    session: AsyncSession,
    shop_id: str,
    variant_id: str,
    qty: int,
    *,
    reason: str = "sale",
    actor_user_id: str | None = None,
) -> int:
    """Turn `qty` reserved units into a sale: both quantity and reserved drop; ledger row kept.

    Returns the resulting quantity.
    """
    if qty <= 0:
        raise ValueError("qty must be positive")
    result = (
        await session.execute(
            update(Stock)
            .where(stock_key(shop_id, variant_id), Stock.reserved >= qty)
            .values(
                quantity=Stock.quantity - qty, reserved=Stock.reserved - qty, updated_at=utcnow()
            )
            .returning(Stock.quantity)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if result is None:
        raise InsufficientStock(f"Fewer than {qty} units are reserved")
    await record(
        session,
        shop_id,
        variant_id,
        kind="sale",
        delta=-qty,
        quantity_after=result[0],
        reason=reason,
        actor_user_id=actor_user_id,
    )
    return int(result[0])
