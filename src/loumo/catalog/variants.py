"""Variants of a product (size, weight, price, SKU), read with their availability per shop.

Variants are never deleted: stock ledgers and orders point at them; they are deactivated.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.availability import Availability, for_variants
from loumo.catalog.derived import refresh_derived
from loumo.catalog.errors import CurrencyMismatch
from loumo.catalog.images import add_with_image, read_with_image, save_with_image
from loumo.catalog.models import Product, Variant
from loumo.catalog.rows import get_product_row, get_variant_row
from loumo.catalog.schemas import AvailabilityRead, VariantCreate, VariantRead, VariantUpdate
from loumo.core.db import visible
from loumo.core.errors import Conflict
from loumo.media.storage import Storage

CONFLICT = "The variant conflicts with an existing one"


def variant_read(
    variant: Variant, availability: dict[str, list[Availability]], storage: Storage
) -> VariantRead:
    read = read_with_image(VariantRead, variant, storage)
    read.availability = [
        AvailabilityRead(shop_id=a.shop_id, available=a.available)
        for a in availability.get(variant.id, [])
    ]
    return read


async def check_skus(session: AsyncSession, skus: Sequence[str], exclude_id: str | None) -> None:
    """409 when an SKU is given twice or already belongs to another variant."""
    if len(set(skus)) != len(skus):
        raise Conflict("The same SKU is given twice", field="sku")
    stmt = select(Variant.sku).where(Variant.sku.in_(skus))
    if exclude_id is not None:
        stmt = stmt.where(Variant.id != exclude_id)
    taken = (await session.scalars(stmt)).all()
    if taken:
        raise Conflict(f"SKU already used: {', '.join(sorted(taken))}", field="sku")


def new_variant(product: Product, data: VariantCreate) -> Variant:
    """A variant of `product` (not added to the session), priced in the product's currency."""
    currency = data.currency or product.currency
    if currency != product.currency:
        raise CurrencyMismatch(
            f"Variants of this product are priced in {product.currency}", field="currency"
        )
    return Variant(
        product_id=product.id, **data.model_dump(exclude={"currency"}), currency=currency
    )


async def get_variant(
    session: AsyncSession, variant_id: str, *, include_inactive: bool, storage: Storage
) -> VariantRead:
    variant = await get_variant_row(session, variant_id, include_inactive=include_inactive)
    availability = await for_variants(session, [variant.id])
    return variant_read(variant, availability, storage)


async def list_variants(
    session: AsyncSession, product_id: str, *, include_inactive: bool, storage: Storage
) -> list[VariantRead]:
    product = await get_product_row(session, product_id, include_inactive=include_inactive)
    stmt = visible(
        select(Variant).where(Variant.product_id == product.id),
        Variant.is_active,
        include_inactive=include_inactive,
    )
    variants = (await session.scalars(stmt.order_by(Variant.position, Variant.id))).all()
    availability = await for_variants(session, [v.id for v in variants])
    return [variant_read(v, availability, storage) for v in variants]


async def create_variant(
    session: AsyncSession, product_id: str, data: VariantCreate, *, storage: Storage
) -> VariantRead:
    product = await get_product_row(session, product_id, include_inactive=True)
    await check_skus(session, [data.sku], None)
    variant = new_variant(product, data)
    await add_with_image(session, variant, CONFLICT)
    await refresh_derived(session, product)
    await session.flush()
    return await get_variant(session, variant.id, include_inactive=True, storage=storage)


async def update_variant(
    session: AsyncSession, variant_id: str, data: VariantUpdate, *, storage: Storage
) -> VariantRead:
    variant = await get_variant_row(session, variant_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True)
    if "sku" in changes:
        await check_skus(session, [changes["sku"]], variant.id)
    await save_with_image(session, variant, changes, CONFLICT)
    await _refresh_product(session, variant)
    return await get_variant(session, variant.id, include_inactive=True, storage=storage)


async def deactivate_variant(session: AsyncSession, variant_id: str) -> None:
    """Variants are never deleted (stock ledgers and orders point at them)."""
    variant = await get_variant_row(session, variant_id, include_inactive=True)
    variant.is_active = False
    await session.flush()
    await _refresh_product(session, variant)


async def _refresh_product(session: AsyncSession, variant: Variant) -> None:
    """Recompute the derived columns of the variant's product after a change of the variant."""
    product = await session.get(Product, variant.product_id)
    assert product is not None
    await refresh_derived(session, product)
    await session.flush()
