"""Stock held for checkouts: reserve, release, and turn a reservation into a sale.

Each is one conditional UPDATE whose WHERE clause is the rule (never read-then-write), so that
stock is never sold twice whatever the concurrency.
"""

from __future__ import annotations

from sqlalchemy import bindparam, update
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
