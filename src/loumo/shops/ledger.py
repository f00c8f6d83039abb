"""The stock write path every change goes through: the row, the conditional UPDATE, the ledger.

Every stock write is one conditional UPDATE, so that concurrent writers (requests, checkouts,
several API processes) can never take a quantity below zero or below what is reserved. Each
change of quantity adds a `StockMovement` and checks the low-stock threshold, deferring one
`stock.low` job per crossing (handled in `alerts.py`).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.errors import Conflict
from loumo.jobs.outbox import defer
from loumo.shops.errors import InsufficientStock
from loumo.shops.models import Stock, StockMovement

LOW_STOCK_JOB = "stock.low"
MAX_QUANTITY = 1_000_000_000  # keeps quantity + delta within the 32-bit column


def stock_key(shop_id: str, variant_id: str) -> ColumnElement[bool]:
    """The condition selecting the stock row of (shop, variant)."""
    return and_(Stock.shop_id == shop_id, Stock.variant_id == variant_id)


async def ensure_row(session: AsyncSession, shop_id: str, variant_id: str) -> None:
    """Create the (empty) stock row of (shop, variant) unless it exists."""
    await session.execute(
        insert_ignoring_conflicts(session, Stock.__table__).values(
            shop_id=shop_id,
            variant_id=variant_id,
            quantity=0,
            reserved=0,
            threshold=0,
            low_stock_alerted=False,
            low_stock_notified=False,
            updated_at=utcnow(),
        )
    )


async def record(
    session: AsyncSession,
    shop_id: str,
    variant_id: str,
    *,
    kind: str,
    delta: int,
    quantity_after: int,
    reason: str,
    actor_user_id: str | None,
) -> None:
    """Add the ledger row of a change of quantity and check the low-stock threshold."""
    session.add(
        StockMovement(
            shop_id=shop_id,
            variant_id=variant_id,
            kind=kind,
            delta=delta,
            quantity_after=quantity_after,
            reason=reason,
            actor_user_id=actor_user_id,
        )
    )
    await _low_stock_check(session, shop_id, variant_id)
    await session.flush()


async def _low_stock_check(session: AsyncSession, shop_id: str, variant_id: str) -> None:
    """Defer one `stock.low` job per crossing: the flag flips in a conditional UPDATE, so only
    one of several concurrent writers sees it flip; restocking above the threshold re-arms it."""
    crossed = await session.execute(
        update(Stock)
        .where(
            stock_key(shop_id, variant_id),
            Stock.is_low,
            Stock.low_stock_alerted.is_(False),
        )
        .values(low_stock_alerted=True)
        .returning(Stock.shop_id)
        .execution_options(synchronize_session=False)
    )
    if crossed.first() is not None:
        await defer(session, LOW_STOCK_JOB, {"shop_id": shop_id, "variant_id": variant_id})
    await session.execute(
        update(Stock)
        .where(
            stock_key(shop_id, variant_id),
            Stock.quantity > Stock.threshold,
            Stock.low_stock_alerted.is_(True) | Stock.low_stock_notified.is_(True),
        )
        .values(low_stock_alerted=False, low_stock_notified=False)
        .execution_options(synchronize_session=False)
    )


async def apply_delta(
    session: AsyncSession,
    shop_id: str,
    variant_id: str,
    delta: int,
    *,
    kind: str,
    reason: str,
    actor_user_id: str | None,
) -> int:
    """One conditional UPDATE: quantity + delta, only if that still covers the reservations.

    Returns the resulting quantity; raises `InsufficientStock` (and changes nothing) otherwise.
    """
    if delta > 0:
        await ensure_row(session, shop_id, variant_id)
    result = (
        await session.execute(
            update(Stock)
            .where(
                stock_key(shop_id, variant_id),
                Stock.quantity + delta >= Stock.reserved,
                Stock.quantity + delta <= MAX_QUANTITY,
            )
            .values(quantity=Stock.quantity + delta, updated_at=utcnow())
            .returning(Stock.quantity)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if result is None:
        if delta > 0:
            raise Conflict(f"A stock holds at most {MAX_QUANTITY} units", field="delta")
        raise InsufficientStock(f"Removing {-delta} units would go below zero or the reservations")
    await record(
        session,
        shop_id,
        variant_id,
        kind=kind,
        delta=delta,
        quantity_after=result[0],
        reason=reason,
        actor_user_id=actor_user_id,
    )
    return int(result[0])
