"""Product writes (staff): create (with variants and images inline), change, deactivate.

Reads live in `listing.py`; every write answers the product as the listing reads it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.derived import refresh_derived
from loumo.catalog.images import check_images, replace_images
from loumo.catalog.listing import get_product
from loumo.catalog.models import Product, ProductImage
from loumo.catalog.rows import check_category, get_product_row
from loumo.catalog.schemas import ProductCreate, ProductUpdate
from loumo.catalog.text import slug_for, slugify
from loumo.catalog.variants import check_skus, new_variant
from loumo.core.db import flush_or_conflict, is_taken
from loumo.core.reads import SessionReads
from loumo.core.unique import check_change_free, check_free
from loumo.media import service as media
from loumo.media.storage import Storage

CONFLICT = "The product conflicts with an existing one"
REFERENCE_TAKEN = "Reference '{}' is already used"
SLUG_TAKEN = "Slug '{}' is already used"


async def create_product(
    session: AsyncSession, data: ProductCreate, *, storage: Storage
) -> dict[str, Any]:
    """Create a product; the answer is shaped like `ProductRead`."""
    await check_category(session, data.category_id, field="category_id")
    await check_free(session, Product.reference, data.reference, REFERENCE_TAKEN)
    slug = slug_for(data.slug, data.name_fr, 140)
    if not data.slug and await is_taken(session, Product.slug, slug):
        slug = f"{slug}-{slugify(data.reference, 19)}"
    await check_free(session, Product.slug, slug, SLUG_TAKEN)
    if data.variants:
        await check_skus(session, [v.sku for v in data.variants], None)
    check_images(data.images, "images")
    product = Product(
        **data.model_dump(exclude={"slug", "images", "variants"}),
        slug=slug,
    )
    session.add(product)
    await flush_or_conflict(session, CONFLICT)
    variants = [new_variant(product, v) for v in data.variants]
    await media.update_references(
        session, [], [v.image_key for v in variants], field="variants.image_key"
    )
    await media.update_references(session, [], data.images, field="images")
    if all(v.position == 0 for v in variants):
        # Inline variants without explicit positions keep the order they were given in.
        for index, variant in enumerate(variants):
            variant.position = index
    session.add_all(variants)
    session.add_all(
        ProductImage(product_id=product.id, position=i, media_key=key)
        for i, key in enumerate(data.images)
    )
    product.image_keys = list(data.images)
    await flush_or_conflict(session, CONFLICT)
    await refresh_derived(session, product)
    await session.flush()
    return await get_product(
        SessionReads(session), product.id, include_inactive=True, storage=storage
    )


async def update_product(
    session: AsyncSession, product_id: str, data: ProductUpdate, *, storage: Storage
) -> dict[str, Any]:
    """Change a product; the answer is shaped like `ProductRead`."""
    product = await get_product_row(session, product_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True)
    if "category_id" in changes:
        await check_category(session, changes["category_id"], field="category_id")
    await check_change_free(session, product, changes, Product.reference, REFERENCE_TAKEN)
    await check_change_free(session, product, changes, Product.slug, SLUG_TAKEN)
    images = changes.pop("images", None)
    for key, value in changes.items():
        setattr(product, key, value)
    if images is not None:
        await replace_images(session, product, images, field="images")
    await refresh_derived(session, product)
    await flush_or_conflict(session, CONFLICT)
    await session.refresh(product)
    return await get_product(
        SessionReads(session), product.id, include_inactive=True, storage=storage
    )


async def deactivate_product(session: AsyncSession, product_id: str) -> None:
    """Products are never deleted (orders keep pointing at them); they stop being listed."""
    product = await get_product_row(session, product_id, include_inactive=True)
    product.is_active = False
    await session.flush()
