"""Shops: reads (public, staff also see inactive ones), staff writes, and the shop's image."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.images import add_with_image, change_image_key, read_with_image, save_with_image
from loumo.catalog.text import slug_for
from loumo.core.auth import Principal
from loumo.core.db import flush_or_conflict, visible
from loumo.core.errors import NotFound, PermissionDenied
from loumo.core.pagination import Page, cut_page, id_after, id_cursor
from loumo.core.unique import check_change_free, check_free
from loumo.media.storage import Storage
from loumo.shops.models import Shop
from loumo.shops.permissions import SHOPS_WRITE
from loumo.shops.schemas import ShopCreate, ShopRead, ShopUpdate
from loumo.zones import service as zones

CONFLICT = "The shop conflicts with an existing one"
SLUG_TAKEN = "Slug '{}' is already used"


async def list_shops(
    session: AsyncSession,
    *,
    include_inactive: bool,
    zone_id: str | None,
    cursor: str | None,
    limit: int,
    storage: Storage,
) -> Page[ShopRead]:
    stmt = visible(
        select(Shop).order_by(Shop.id), Shop.is_active, include_inactive=include_inactive
    )
    if zone_id is not None:
        stmt = stmt.where(Shop.zone_id == zone_id)
    stmt = stmt.where(Shop.id > id_after(cursor, "shops")) if cursor else stmt
    rows = (await session.scalars(stmt.limit(limit + 1))).all()
    page, next_cursor = cut_page(rows, limit, lambda shop: id_cursor("shops", shop.id))
    items = [read_with_image(ShopRead, shop, storage) for shop in page]
    return Page[ShopRead](items=items, next_cursor=next_cursor)


async def find_shop(session: AsyncSession, id_or_slug: str) -> Shop | None:
    """The shop by id or slug, active or not."""
    return await session.scalar(
        select(Shop).where((Shop.id == id_or_slug) | (Shop.slug == id_or_slug))
    )


async def get_shop_row(session: AsyncSession, id_or_slug: str, *, include_inactive: bool) -> Shop:
    shop = await find_shop(session, id_or_slug)
    if shop is None or not (include_inactive or shop.is_active):
        raise NotFound(f"No shop {id_or_slug}")
    return shop


async def get_shop(
    session: AsyncSession, id_or_slug: str, *, include_inactive: bool, storage: Storage
) -> ShopRead:
    shop = await get_shop_row(session, id_or_slug, include_inactive=include_inactive)
    return read_with_image(ShopRead, shop, storage)


async def create_shop(session: AsyncSession, data: ShopCreate, *, storage: Storage) -> ShopRead:
    await zones.check_zone(session, data.zone_id, include_inactive=True)
    slug = slug_for(data.slug, data.name)
    await check_free(session, Shop.slug, slug, SLUG_TAKEN)
    shop = Shop(**data.model_dump(exclude={"slug", "opening_hours"}), slug=slug)
    shop.opening_hours = data.model_dump(mode="json")["opening_hours"]
    await add_with_image(session, shop, CONFLICT)
    return read_with_image(ShopRead, shop, storage)


async def update_shop(
    session: AsyncSession, shop_id: str, data: ShopUpdate, *, storage: Storage
) -> ShopRead:
    shop = await get_shop_row(session, shop_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True, mode="json")
    if "zone_id" in changes:
        await zones.check_zone(session, changes["zone_id"], include_inactive=True)
    await check_change_free(session, shop, changes, Shop.slug, SLUG_TAKEN)
    await save_with_image(session, shop, changes, CONFLICT)
    return read_with_image(ShopRead, shop, storage)


async def deactivate_shop(session: AsyncSession, shop_id: str) -> None:
    """Shops are never deleted (stock ledgers and orders point at them)."""
    shop = await get_shop_row(session, shop_id, include_inactive=True)
    shop.is_active = False
    await session.flush()


async def image_shop(session: AsyncSession, principal: Principal, shop_id: str) -> Shop:
    """The shop whose image the caller changes: any shop for `shops:write` staff, their own
    for managers. A visible shop the caller does not manage is a 403, an unknown one a 404."""
    shop = await find_shop(session, shop_id)
    if shop is None:
        raise NotFound(f"No shop {shop_id}")
    if principal.has(SHOPS_WRITE) or principal.manages_shop(shop.id):
        return shop
    if not shop.is_active:
        raise NotFound(f"No shop {shop_id}")
    raise PermissionDenied("Only the shop's managers and shop staff may change its image")


async def set_shop_image(
    session: AsyncSession, principal: Principal, shop_id: str, key: str | None, *, storage: Storage
) -> ShopRead:
    """Set (or with None, remove) a shop's image, moving the media reference."""
    shop = await image_shop(session, principal, shop_id)
    await change_image_key(session, shop, key, field="key")
    await flush_or_conflict(session, CONFLICT)
    await session.refresh(shop)
    return read_with_image(ShopRead, shop, storage)
