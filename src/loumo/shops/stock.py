"""Stock per (shop, variant) as the shop's managers and stock staff see it: reads and changes.

Staff holding `stock:write` act on any shop, a manager on the shops they manage (`stock_shop`).
Every change goes through `ledger.py`.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Variant
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.errors import NotFound, PermissionDenied
from loumo.core.pagination import Page, cut_page, id_after, id_cursor
from loumo.core.rows import from_row
from loumo.shops.errors import InsufficientStock
from loumo.shops.ledger import apply_delta, ensure_row, record, stock_key
from loumo.shops.models import Shop, Stock, StockMovement
from loumo.shops.permissions import STOCK_WRITE
from loumo.shops.schemas import StockMovementRead, StockRead, StockWrite
from loumo.shops.shops import find_shop


async def stock_shop(session: AsyncSession, principal: Principal, shop_id: str) -> Shop:
    """The shop whose stock the caller reads or changes.

    Staff holding `stock:write` may act on any shop, a manager on the shops they manage. Shops
    are public, so a visible shop that the caller does not manage is a 403, not a 404.
    """
    allowed_any = principal.has(STOCK_WRITE)
    shop = await find_shop(session, shop_id)
    if shop is None:
        raise NotFound(f"No shop {shop_id}")
    if allowed_any or principal.manages_shop(shop.id):
        return shop
    if not shop.is_active:
        raise NotFound(f"No shop {shop_id}")
    raise PermissionDenied("Only the shop's managers and stock staff may handle its stock")


async def _stock_target(
    session: AsyncSession, principal: Principal, shop_id: str, variant_id: str
) -> Shop:
    """The shop of a stock change (see `stock_shop`); 404 for an unknown variant."""
    shop = await stock_shop(session, principal, shop_id)
    if await session.get(Variant, variant_id) is None:
        raise NotFound(f"No variant {variant_id}")
    return shop


def _stock_read(stock: Stock, variant: Variant) -> StockRead:
    return from_row(
        StockRead,
        stock,
        sku=variant.sku,
        variant_name=variant.name,
        available=stock.quantity - stock.reserved,
        low_stock=stock.is_low,
    )


async def list_stock(
    session: AsyncSession, principal: Principal, shop_id: str, *, cursor: str | None, limit: int
) -> Page[StockRead]:
    shop = await stock_shop(session, principal, shop_id)
    scope = f"stock:{shop.id}"
    stmt = (
        select(Stock, Variant)
        .join(Variant, Variant.id == Stock.variant_id)
        .where(Stock.shop_id == shop.id)
        .order_by(Stock.variant_id)
    )
    if cursor:
        stmt = stmt.where(Stock.variant_id > id_after(cursor, scope))
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    page, next_cursor = cut_page(rows, limit, lambda row: id_cursor(scope, row[0].variant_id))
    return Page[StockRead](items=[_stock_read(s, v) for s, v in page], next_cursor=next_cursor)


async def get_stock(
    session: AsyncSession, principal: Principal, shop_id: str, variant_id: str
) -> StockRead:
    shop = await stock_shop(session, principal, shop_id)
    return await _read_stock(session, shop.id, variant_id)


async def _read_stock(session: AsyncSession, shop_id: str, variant_id: str) -> StockRead:
    row = (
        await session.execute(
            select(Stock, Variant)
            .join(Variant, Variant.id == Stock.variant_id)
            .where(stock_key(shop_id, variant_id))
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotFound(f"Shop {shop_id} holds no stock of variant {variant_id}")
    return _stock_read(row[0], row[1])


async def list_movements(
    session: AsyncSession,
    principal: Principal,
    shop_id: str,
    variant_id: str,
    *,
    cursor: str | None,
    limit: int,
) -> Page[StockMovementRead]:
    """The ledger of one stock, newest first."""
    shop = await stock_shop(session, principal, shop_id)
    scope = f"moves:{shop.id}:{variant_id}"
    stmt = (
        select(StockMovement)
        .where(StockMovement.shop_id == shop.id, StockMovement.variant_id == variant_id)
        .order_by(StockMovement.id.desc())
    )
    if cursor:
        stmt = stmt.where(StockMovement.id < id_after(cursor, scope))
    rows = (await session.scalars(stmt.limit(limit + 1))).all()
    page, next_cursor = cut_page(rows, limit, lambda movement: id_cursor(scope, movement.id))
    items = [StockMovementRead.model_validate(m) for m in page]
    return Page[StockMovementRead](items=items, next_cursor=next_cursor)


async def set_stock(
    session: AsyncSession,
    principal: Principal,
    shop_id: str,
    variant_id: str,
    data: StockWrite,
) -> StockRead:
    """Set the absolute quantity and the threshold; never below what is already reserved."""
    shop = await _stock_target(session, principal, shop_id, variant_id)
    await ensure_row(session, shop.id, variant_id)
    # A no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) and reads the
    # current values, so the delta written to the ledger is exact.
    current = (
        await session.execute(
            update(Stock)
            .where(stock_key(shop.id, variant_id))
            .values(quantity=Stock.quantity)
            .returning(Stock.quantity, Stock.reserved)
            .execution_options(synchronize_session=False)
        )
    ).first()
    assert current is not None
    old_quantity, reserved = current
    if data.quantity < reserved:
        raise InsufficientStock(
            f"{reserved} units are reserved; the quantity cannot go below that", field="quantity"
        )
    await session.execute(
        update(Stock)
        .where(stock_key(shop.id, variant_id))
        .values(
            quantity=data.quantity,
            threshold=data.threshold,
            restock_date=data.restock_date,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    await record(
        session,
        shop.id,
        variant_id,
        kind="set",
        delta=data.quantity - old_quantity,
        quantity_after=data.quantity,
        reason=data.reason,
        actor_user_id=principal.user_id,
    )
    return await _read_stock(session, shop.id, variant_id)


async def adjust_stock(
    session: AsyncSession,
    principal: Principal,
    shop_id: str,
    variant_id: str,
    *,
    delta: int,
    reason: str,
) -> StockRead:
    """Add `delta` units (negative to remove); refused when it would leave fewer than reserved."""
    shop = await _stock_target(session, principal, shop_id, variant_id)
    await apply_delta(
        session,
        shop.id,
        variant_id,
        delta,
        kind="adjustment",
        reason=reason,
        actor_user_id=principal.user_id,
    )
    return await _read_stock(session, shop.id, variant_id)
