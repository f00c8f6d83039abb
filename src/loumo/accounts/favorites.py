"""Favorites: the products a user keeps an eye on (`/me/favorites`)."""

from __future__ import annotations

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Favorite
from loumo.accounts.schemas import FavoriteRead
from loumo.catalog.images import image_model
from loumo.catalog.models import Product
from loumo.core.auth import Principal
from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.errors import NotFound
from loumo.core.ids import new_id
from loumo.core.once import rowcount
from loumo.core.pagination import Page, after_position, decode_cursor, position_of
from loumo.core.rows import from_row
from loumo.media.storage import Storage


def _own_favorites(principal: Principal) -> Select[Favorite, Product]:
    """The one place deciding which favorites a caller sees: their own, of visible products."""
    return (
        select(Favorite, Product)
        .join(Product, Product.id == Favorite.product_id)
        .where(Favorite.user_id == principal.user_id, Product.is_active.is_(True))
    )


def _read(favorite: Favorite, product: Product, storage: Storage) -> FavoriteRead:
    first = product.image_keys[0] if product.image_keys else None
    return from_row(
        FavoriteRead,
        product,
        product_id=product.id,
        price=product.min_price,
        image=image_model(storage, first),
        favorited_at=favorite.created_at,
    )


async def _visible_product(session: AsyncSession, product_id: str) -> Product:
    product = await session.get(Product, product_id)
    if product is None or not product.is_active:
        raise NotFound("No such product")
    return product


async def add_favorite(
    session: AsyncSession, principal: Principal, product_id: str, *, storage: Storage
) -> FavoriteRead:
    """Mark a visible product as a favorite (idempotent: a repeat keeps the original time)."""
    product = await _visible_product(session, product_id)
    await session.execute(
        insert_ignoring_conflicts(session, Favorite).values(
            id=new_id(), user_id=principal.user_id, product_id=product.id, created_at=utcnow()
        )
    )
    row = (
        await session.execute(
            _own_favorites(principal)
            .where(Favorite.product_id == product.id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return _read(row[0], row[1], storage)


async def remove_favorite(session: AsyncSession, principal: Principal, product_id: str) -> None:
    """Forget a favorite; removing one that is not there is fine if the product exists."""
    result = await session.execute(
        delete(Favorite).where(
            Favorite.user_id == principal.user_id, Favorite.product_id == product_id
        )
    )
    if not rowcount(result):
        await _visible_product(session, product_id)


async def list_favorites(
    session: AsyncSession,
    principal: Principal,
    *,
    cursor: str | None,
    limit: int,
    storage: Storage,
) -> Page[FavoriteRead]:
    """The caller's favorites, newest first (keyset on favorited time, then id)."""
    query = _own_favorites(principal).order_by(Favorite.created_at.desc(), Favorite.id.desc())
    position = decode_cursor(cursor)
    if position is not None:
        query = query.where(after_position(Favorite.created_at, Favorite.id, position))
    rows = (await session.execute(query.limit(limit + 1))).all()
    next_cursor = position_of(rows[limit - 1][0]) if len(rows) > limit else None
    return Page[FavoriteRead](
        items=[_read(f, p, storage) for f, p in rows[:limit]], next_cursor=next_cursor
    )
