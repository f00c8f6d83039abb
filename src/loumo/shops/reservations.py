"""Stock held for checkouts: reserve, release, and turn a reservation into a sale.

Each is one conditional UPDATE whose WHERE clause is the rule (never read-then-write), so that
stock is never sold twice whatever the concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ARRAY, Integer, String, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.shops.errors import InsufficientStock
from loumo.shops.ledger import record, stock_key
from loumo.shops.models import Stock

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


# PostgreSQL: every line of a checkout in one statement, so that the rows are held for one
# round trip fewer per line. `locked` takes the row locks in (shop, variant) order (its
# `ORDER BY ... FOR UPDATE` locks rows as it emits them, and the UPDATE touches a row only once
# `locked` has emitted it), so two checkouts never deadlock; the condition is re-checked on
# the latest row version when another checkout changed it meanwhile (READ COMMITTED).
_RESERVE_MANY = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(:shops, :variants, :quantities) AS w(shop_id, variant_id, qty)
    ), locked AS (
        SELECT s.shop_id, s.variant_id FROM stocks AS s
        JOIN wanted AS w ON s.shop_id = w.shop_id AND s.variant_id = w.variant_id
        ORDER BY s.shop_id, s.variant_id
        FOR UPDATE OF s
    )
    UPDATE stocks SET reserved = stocks.reserved + wanted.qty, updated_at = :now
    FROM wanted, locked
    WHERE stocks.shop_id = wanted.shop_id AND stocks.variant_id = wanted.variant_id
      AND locked.shop_id = stocks.shop_id AND locked.variant_id = stocks.variant_id
      AND stocks.quantity - stocks.reserved >= wanted.qty
    RETURNING stocks.shop_id, stocks.variant_id
    """
).bindparams(
    bindparam("shops", type_=ARRAY(String)),
    bindparam("variants", type_=ARRAY(String)),
    bindparam("quantities", type_=ARRAY(Integer)),
    bindparam("now", type_=Stock.updated_at.type),
)


async def reserve_all(
    session: AsyncSession, lines: Sequence[tuple[str, str, int]]
) -> set[tuple[str, str]]:
    """Hold each (shop, variant, qty) line; returns the (shop, variant) pairs held. A line
    left out had too few free units: the caller rolls back (it reserved the others)."""
    if any(qty <= 0 for _, _, qty in lines):
        raise ValueError("qty must be positive")
    ordered = sorted(lines)
    if session.get_bind().dialect.name != "postgresql":
        return {(s, v) for s, v, q in ordered if await reserve(session, s, v, q)}
    rows = await session.execute(
        _RESERVE_MANY,
        {
            "shops": [s for s, _, _ in ordered],
            "variants": [v for _, v, _ in ordered],
            "quantities": [q for _, _, q in ordered],
            "now": utcnow(),
        },
    )
    return {(shop, variant) for shop, variant in rows}


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
