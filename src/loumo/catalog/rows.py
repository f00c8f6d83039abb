"""Loading one category, product or variant row for the services: unknown and hidden are 404.

A hidden row is an inactive one (or a variant of an inactive product) asked for by a caller who
does not see inactive rows (`loumo.core.auth.sees_inactive`).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.errors import UnknownCategory
from loumo.catalog.models import Category, Product, Variant
from loumo.core.errors import NotFound


async def get_category_row(
    session: AsyncSession, category_id: str, *, include_inactive: bool
) -> Category:
    category = await session.get(Category, category_id)
    if category is None or not (include_inactive or category.is_active):
        raise NotFound(f"No category {category_id}")
    return category


async def check_category(session: AsyncSession, category_id: str, *, field: str) -> Category:
    """The category a write refers to (active or not); 400 `unknown_category` if none."""
    category = await session.get(Category, category_id)
    if category is None:
        raise UnknownCategory(f"No category {category_id}", field=field)
    return category


async def get_product_row(
    session: AsyncSession, id_or_slug: str, *, include_inactive: bool
) -> Product:
    product = await session.scalar(
        select(Product).where(or_(Product.id == id_or_slug, Product.slug == id_or_slug))
    )
    if product is None or not (include_inactive or product.is_active):
        raise NotFound(f"No product {id_or_slug}")
    return product


async def get_variant_row(
    session: AsyncSession, variant_id: str, *, include_inactive: bool
) -> Variant:
    row = (
        await session.execute(
            select(Variant, Product.is_active)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id == variant_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No variant {variant_id}")
    variant, product_active = row
    if not include_inactive and not (variant.is_active and product_active):
        raise NotFound(f"No variant {variant_id}")
    return variant
