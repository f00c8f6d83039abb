"""Shop rules: shops and their managers, stock per (shop, variant), the ledger and reservations.

Every stock write is one conditional UPDATE, so that concurrent writers (requests, checkouts,
several API processes) can never take a quantity below zero or below what is reserved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    cast,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Product, Variant
from loumo.catalog.service import Availability, locked_value, register_availability_source
from loumo.catalog.text import slugify
from loumo.core.auth import Principal
from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.errors import BadRequest, Conflict, NotFound, PermissionDenied
from loumo.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from loumo.core.permissions import register_permission
from loumo.jobs.outbox import defer
from loumo.media import service as media
from loumo.media.schemas import ImageRead
from loumo.media.storage import Storage
from loumo.notifications.email import LANGUAGES
from loumo.notifications.recipients import holders_of, resolve_recipients
from loumo.notifications.schemas import Link, NotificationKind, Severity
from loumo.notifications.service import Recipient, notify
from loumo.shops.models import Shop, Stock, StockMovement, shop_managers
from loumo.shops.schemas import ShopCreate, ShopRead, ShopUpdate, StockRead, StockWrite
from loumo.zones.models import Zone

register_permission("shops:write", "Create and change any shop and assign its managers")
register_permission("stock:write", "Change the stock of any shop (managers change their own)")

LOW_STOCK_JOB = "stock.low"
MAX_QUANTITY = 1_000_000_000  # keeps quantity + delta within the 32-bit column


class UnknownZone(BadRequest):
    code, title = "unknown_zone", "Unknown zone"


class InsufficientStock(Conflict):
    code, title = "insufficient_stock", "Insufficient stock"


# --- shops -----------------------------------------------------------------------------------


def shop_read(shop: Shop, storage: Storage) -> ShopRead:
    read = ShopRead.model_validate(shop)
    if shop.image_key:
        read.image = ImageRead(**media.image_read(storage, shop.image_key))
    return read


async def list_shops(
    session: AsyncSession,
    *,
    include_inactive: bool,
    zone_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Shop], str | None]:
    stmt = select(Shop).order_by(Shop.id)
    if not include_inactive:
        stmt = stmt.where(Shop.is_active)
    if zone_id is not None:
        stmt = stmt.where(Shop.zone_id == zone_id)
    stmt = stmt.where(Shop.id > _after_id(cursor, "shops")) if cursor else stmt
    rows = list((await session.scalars(stmt.limit(limit + 1))).all())
    next_cursor = (
        encode_cursor({"s": "shops", "id": rows[limit - 1].id}) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


def _after_id(cursor: str | None, scope: str) -> str:
    values = decode_cursor(cursor) or {}
    last = values.get("id")
    if values.get("s") != scope or not isinstance(last, str):
        raise InvalidCursor("The cursor does not belong to this list")
    return last


async def get_shop(session: AsyncSession, id_or_slug: str, *, include_inactive: bool) -> Shop:
    shop = await session.scalar(
        select(Shop).where((Shop.id == id_or_slug) | (Shop.slug == id_or_slug))
    )
    if shop is None or not (include_inactive or shop.is_active):
        raise NotFound(f"No shop {id_or_slug}")
    return shop


async def _check_zone(session: AsyncSession, zone_id: str) -> None:
    if await session.get(Zone, zone_id) is None:
        raise UnknownZone(f"No zone {zone_id}", field="zone_id")


async def _slug_taken(session: AsyncSession, slug: str, exclude_id: str | None) -> bool:
    stmt = select(Shop.id).where(Shop.slug == slug)
    if exclude_id:
        stmt = stmt.where(Shop.id != exclude_id)
    return (await session.scalar(stmt)) is not None


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("The shop conflicts with an existing one") from None


async def create_shop(session: AsyncSession, data: ShopCreate) -> Shop:
    await _check_zone(session, data.zone_id)
    slug = data.slug or slugify(data.name)
    if not slug:
        raise BadRequest("The name gives an empty slug; pass `slug`", field="slug")
    if await _slug_taken(session, slug, None):
        raise Conflict(f"Slug '{slug}' is already used", field="slug")
    shop = Shop(**data.model_dump(exclude={"slug", "opening_hours"}), slug=slug)
    shop.opening_hours = data.model_dump(mode="json")["opening_hours"]
    await media.update_references(session, [], [shop.image_key], field="image_key")
    session.add(shop)
    await _flush(session)
    return shop


async def update_shop(session: AsyncSession, shop_id: str, data: ShopUpdate) -> Shop:
    shop = await get_shop(session, shop_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True, mode="json")
    if "zone_id" in changes:
        await _check_zone(session, changes["zone_id"])
    if "slug" in changes and await _slug_taken(session, changes["slug"], shop.id):
        raise Conflict(f"Slug '{changes['slug']}' is already used", field="slug")
    if "image_key" in changes:
        current = await locked_value(session, shop, "image_key")
        await media.update_references(session, [current], [changes["image_key"]], field="image_key")
    for key, value in changes.items():
        setattr(shop, key, value)
    await _flush(session)
    await session.refresh(shop)
    return shop


async def deactivate_shop(session: AsyncSession, shop_id: str) -> None:
    """Shops are never deleted (stock ledgers and orders point at them)."""
    shop = await get_shop(session, shop_id, include_inactive=True)
    shop.is_active = False
    await session.flush()


async def image_shop(session: AsyncSession, principal: Principal, shop_id: str) -> Shop:
    """The shop whose image the caller changes: any shop for `shops:write` staff, their own
    for managers. A visible shop the caller does not manage is a 403, an unknown one a 404."""
    shop = await session.scalar(select(Shop).where((Shop.id == shop_id) | (Shop.slug == shop_id)))
    if shop is None:
        raise NotFound(f"No shop {shop_id}")
    if principal.has("shops:write") or principal.manages_shop(shop.id):
        return shop
    if not shop.is_active:
        raise NotFound(f"No shop {shop_id}")
    raise PermissionDenied("Only the shop's managers and shop staff may change its image")


async def set_shop_image(
    session: AsyncSession, principal: Principal, shop_id: str, key: str | None
) -> Shop:
    """Set (or with None, remove) a shop's image, moving the media reference."""
    shop = await image_shop(session, principal, shop_id)
    current = await locked_value(session, shop, "image_key")
    await media.update_references(session, [current], [key], field="key")
    shop.image_key = key
    await _flush(session)
    await session.refresh(shop)
    return shop


# --- managers --------------------------------------------------------------------------------


async def managed_shop_ids(session: AsyncSession, user_id: str) -> frozenset[str]:
    """The shops a user manages: the accounts principal loader fills `Principal` with it."""
    rows = await session.scalars(
        select(shop_managers.c.shop_id).where(shop_managers.c.user_id == user_id)
    )
    return frozenset(rows.all())


async def with_managed_shops(session: AsyncSession, principal: Principal) -> Principal:
    """Principal enricher (see `accounts.install`): adds the shops the caller manages."""
    shops = await managed_shop_ids(session, principal.user_id)
    return dataclasses.replace(principal, managed_shop_ids=shops) if shops else principal


async def list_managers(session: AsyncSession, shop_id: str) -> list[str]:
    shop = await get_shop(session, shop_id, include_inactive=True)
    rows = await session.scalars(
        select(shop_managers.c.user_id)
        .where(shop_managers.c.shop_id == shop.id)
        .order_by(shop_managers.c.user_id)
    )
    return list(rows.all())


async def add_manager(session: AsyncSession, shop_id: str, user_id: str) -> None:
    """Make `user_id` a manager of the shop (idempotent)."""
    shop = await get_shop(session, shop_id, include_inactive=True)
    await session.execute(
        insert_ignoring_conflicts(session, shop_managers).values(shop_id=shop.id, user_id=user_id)
    )


async def remove_manager(session: AsyncSession, shop_id: str, user_id: str) -> None:
    shop = await get_shop(session, shop_id, include_inactive=True)
    await session.execute(
        delete(shop_managers).where(
            shop_managers.c.shop_id == shop.id, shop_managers.c.user_id == user_id
        )
    )


# --- stock: who may change it ----------------------------------------------------------------


async def stock_shop(session: AsyncSession, principal: Principal, shop_id: str) -> Shop:
    """The shop whose stock the caller reads or changes.

    Staff holding `stock:write` may act on any shop, a manager on the shops they manage. Shops
    are public, so a visible shop that the caller does not manage is a 403, not a 404.
    """
    allowed_any = principal.has("stock:write")
    shop = await session.scalar(select(Shop).where((Shop.id == shop_id) | (Shop.slug == shop_id)))
    if shop is None:
        raise NotFound(f"No shop {shop_id}")
    if allowed_any or principal.manages_shop(shop.id):
        return shop
    if not shop.is_active:
        raise NotFound(f"No shop {shop_id}")
    raise PermissionDenied("Only the shop's managers and stock staff may handle its stock")


async def _existing_variant(session: AsyncSession, variant_id: str) -> Variant:
    variant = await session.get(Variant, variant_id)
    if variant is None:
        raise NotFound(f"No variant {variant_id}")
    return variant


def _stock_read(stock: Stock, variant: Variant) -> StockRead:
    return StockRead(
        shop_id=stock.shop_id,
        variant_id=stock.variant_id,
        sku=variant.sku,
        variant_name=variant.name,
        quantity=stock.quantity,
        reserved=stock.reserved,
        available=stock.quantity - stock.reserved,
        threshold=stock.threshold,
        restock_date=stock.restock_date,
        low_stock=stock.threshold > 0 and stock.quantity <= stock.threshold,
        updated_at=stock.updated_at,
    )


async def list_stock(
    session: AsyncSession, principal: Principal, shop_id: str, *, cursor: str | None, limit: int
) -> tuple[list[StockRead], str | None]:
    shop = await stock_shop(session, principal, shop_id)
    stmt = (
        select(Stock, Variant)
        .join(Variant, Variant.id == Stock.variant_id)
        .where(Stock.shop_id == shop.id)
        .order_by(Stock.variant_id)
    )
    if cursor:
        stmt = stmt.where(Stock.variant_id > _after_id(cursor, f"stock:{shop.id}"))
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor({"s": f"stock:{shop.id}", "id": rows[limit - 1][0].variant_id})
    return [_stock_read(s, v) for s, v in rows[:limit]], next_cursor


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
            .where(Stock.shop_id == shop_id, Stock.variant_id == variant_id)
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
) -> tuple[list[StockMovement], str | None]:
    """The ledger of one stock, newest first."""
    shop = await stock_shop(session, principal, shop_id)
    scope = f"moves:{shop.id}:{variant_id}"
    stmt = (
        select(StockMovement)
        .where(StockMovement.shop_id == shop.id, StockMovement.variant_id == variant_id)
        .order_by(StockMovement.id.desc())
    )
    if cursor:
        stmt = stmt.where(StockMovement.id < _after_id(cursor, scope))
    rows = list((await session.scalars(stmt.limit(limit + 1))).all())
    next_cursor = (
        encode_cursor({"s": scope, "id": rows[limit - 1].id}) if len(rows) > limit else None
    )
    return rows[:limit], next_cursor


# --- stock: writes ---------------------------------------------------------------------------


def _pk(shop_id: str, variant_id: str) -> ColumnElement[bool]:
    return and_(Stock.shop_id == shop_id, Stock.variant_id == variant_id)


async def _ensure_row(session: AsyncSession, shop_id: str, variant_id: str) -> None:
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


async def _record(
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
            _pk(shop_id, variant_id),
            Stock.threshold > 0,
            Stock.quantity <= Stock.threshold,
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
            _pk(shop_id, variant_id),
            Stock.quantity > Stock.threshold,
            Stock.low_stock_alerted.is_(True) | Stock.low_stock_notified.is_(True),
        )
        .values(low_stock_alerted=False, low_stock_notified=False)
        .execution_options(synchronize_session=False)
    )


async def set_stock(
    session: AsyncSession,
    principal: Principal,
    shop_id: str,
    variant_id: str,
    data: StockWrite,
) -> StockRead:
    """Set the absolute quantity and the threshold; never below what is already reserved."""
    shop = await stock_shop(session, principal, shop_id)
    await _existing_variant(session, variant_id)
    await _ensure_row(session, shop.id, variant_id)
    # A no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) and reads the
    # current values, so the delta written to the ledger is exact.
    current = (
        await session.execute(
            update(Stock)
            .where(_pk(shop.id, variant_id))
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
        .where(_pk(shop.id, variant_id))
        .values(
            quantity=data.quantity,
            threshold=data.threshold,
            restock_date=data.restock_date,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    await _record(
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
    shop = await stock_shop(session, principal, shop_id)
    await _existing_variant(session, variant_id)
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
        await _ensure_row(session, shop_id, variant_id)
    result = (
        await session.execute(
            update(Stock)
            .where(
                _pk(shop_id, variant_id),
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
    await _record(
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


# --- low-stock alerts (the `stock.low` job) ---------------------------------------------------


_LOW_STOCK_TITLE = {
    "fr": "Stock bas : {product} chez {shop}",
    "en": "Low stock: {product} at {shop}",
}
_LOW_STOCK_BODY = {
    "fr": "Il en reste {available} (seuil {threshold}).",
    "en": "{available} left (threshold {threshold}).",
}


async def alert_low_stock(
    session: AsyncSession, shop_id: str, variant_id: str, *, base_url: str
) -> list[str]:
    """Tell the shop's managers (in-app and email) and stock staff (in-app) that a stock is low.

    Runs once per crossing whatever the number of deliveries: a conditional UPDATE marks the
    crossing notified, so a repeated or concurrent run finds nothing to do. Nothing is sent
    when the stock was restocked above its threshold (or the threshold removed) meanwhile.
    Returns the ids of the users notified.
    """
    claimed = (
        await session.execute(
            update(Stock)
            .where(
                _pk(shop_id, variant_id),
                Stock.threshold > 0,
                Stock.quantity <= Stock.threshold,
                Stock.low_stock_alerted.is_(True),
                Stock.low_stock_notified.is_(False),
            )
            .values(low_stock_notified=True, updated_at=Stock.updated_at)
            .returning(Stock.quantity - Stock.reserved, Stock.threshold)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if claimed is None:
        return []
    available, threshold = int(claimed[0]), int(claimed[1])
    names = (
        await session.execute(
            select(Shop.name, Variant.name, Product.name_fr, Product.name_en)
            .join(Stock, Stock.shop_id == Shop.id)
            .join(Variant, Variant.id == Stock.variant_id)
            .join(Product, Product.id == Variant.product_id)
            .where(_pk(shop_id, variant_id))
        )
    ).one()
    shop_name, variant_name = names[0], names[1]
    product_names = {"fr": f"{names[2]} ({variant_name})", "en": f"{names[3]} ({variant_name})"}

    managers = list(
        await session.scalars(
            select(shop_managers.c.user_id)
            .where(shop_managers.c.shop_id == shop_id)
            .order_by(shop_managers.c.user_id)
        )
    )
    managing = set(managers)
    staff = [u for u in await holders_of(session, "stock:write") if u not in managing]
    recipients = await resolve_recipients(session, managers)
    # Stock staff oversee every shop: the in-app notice, without an email per crossing.
    recipients += [
        dataclasses.replace(r, email=None) for r in await resolve_recipients(session, staff)
    ]
    link = f"{base_url.rstrip('/')}/shops/{shop_id}/stock/{variant_id}"
    by_language: dict[str, list[Recipient]] = {}
    for recipient in recipients:
        language = recipient.language if recipient.language in LANGUAGES else "fr"
        by_language.setdefault(language, []).append(recipient)
    for language, group in by_language.items():
        words = {"product": product_names[language], "shop": shop_name}
        numbers = {"available": available, "threshold": threshold}
        await notify(
            session,
            recipients=group,
            kind=NotificationKind.STOCK,
            severity=Severity.CRITICAL if available <= 0 else Severity.WARNING,
            title=_LOW_STOCK_TITLE[language].format(**words),
            body=_LOW_STOCK_BODY[language].format(**numbers),
            link=Link(type="shop", id=shop_id),
            email_template="low_stock",
            email_context={
                "shop_name": shop_name,
                "product_name": product_names[language],
                "link": link,
                **numbers,
            },
        )
    return [r.user_id for r in recipients]


# --- reservations (for checkout) -------------------------------------------------------------


async def reserve(session: AsyncSession, shop_id: str, variant_id: str, qty: int) -> bool:
    """Hold `qty` units for a checkout; False (and nothing changed) when not enough are free."""
    if qty <= 0:
        raise ValueError("qty must be positive")
    result = await session.execute(
        update(Stock)
        .where(_pk(shop_id, variant_id), Stock.quantity - Stock.reserved >= qty)
        .values(reserved=Stock.reserved + qty, updated_at=utcnow())
        .returning(Stock.reserved)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def release(session: AsyncSession, shop_id: str, variant_id: str, qty: int) -> None:
    """Give back `qty` reserved units (an abandoned or cancelled checkout)."""
    if qty <= 0:
        raise ValueError("qty must be positive")
    result = await session.execute(
        update(Stock)
        .where(_pk(shop_id, variant_id), Stock.reserved >= qty)
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
            .where(_pk(shop_id, variant_id), Stock.reserved >= qty)
            .values(
                quantity=Stock.quantity - qty, reserved=Stock.reserved - qty, updated_at=utcnow()
            )
            .returning(Stock.quantity)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if result is None:
        raise InsufficientStock(f"Fewer than {qty} units are reserved")
    await _record(
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


# --- availability for the catalog listing ----------------------------------------------------


class ShopAvailability:
    """What the catalog listing needs to know about stock, without importing this package."""

    def product_filter(
        self, product_id: Any, *, shop_id: str | None, in_stock: bool
    ) -> ColumnElement[bool]:
        conditions: list[ColumnElement[bool]] = [
            Variant.product_id == product_id,
            Variant.is_active.is_(True),
            Shop.is_active.is_(True),
        ]
        if shop_id is not None:
            conditions.append(Stock.shop_id == shop_id)
        if in_stock:
            conditions.append(Stock.quantity > Stock.reserved)
        return exists(
            select(Stock.variant_id)
            .join(Variant, Variant.id == Stock.variant_id)
            .join(Shop, Shop.id == Stock.shop_id)
            .where(*conditions)
        )

    def availability_column(self, variant_id: Any) -> ColumnElement[str | None]:
        entry = Stock.shop_id + ":" + cast(Stock.quantity - Stock.reserved, String)
        return (
            select(func.aggregate_strings(entry, ","))
            .join(Shop, Shop.id == Stock.shop_id)
            .where(Stock.variant_id == variant_id, Shop.is_active.is_(True))
            .scalar_subquery()
        )

    async def for_variants(
        self, session: AsyncSession, variant_ids: Sequence[str]
    ) -> dict[str, list[Availability]]:
        rows = await session.execute(
            select(Stock.variant_id, Stock.shop_id, Stock.quantity - Stock.reserved)
            .join(Shop, Shop.id == Stock.shop_id)
            .where(Stock.variant_id.in_(variant_ids), Shop.is_active.is_(True))
            .order_by(Stock.variant_id, Stock.shop_id)
        )
        result: dict[str, list[Availability]] = {}
        for variant_id, shop_id, available in rows:
            result.setdefault(variant_id, []).append(Availability(shop_id, int(available)))
        return result


register_availability_source(ShopAvailability())
