"""Columns the service maintains on a product: folded search text, sort keys, lowest price.

Recomputed after every change to a product or its variants; the bulk seed computes them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Product, Variant
from loumo.catalog.text import fold


@dataclass(frozen=True, slots=True)
class VariantFacts:
    sku: str
    name: str
    price: int
    is_active: bool


def derived_columns(
    *,
    reference: str,
    name_fr: str,
    name_en: str,
    description_fr: str,
    description_en: str,
    variants: Sequence[VariantFacts],
) -> dict[str, Any]:
    """The service-maintained columns of a product (also used by the bulk seed)."""
    words = [reference, name_fr, name_en, description_fr, description_en]
    words += [f"{v.sku} {v.name}" for v in variants]
    prices = [v.price for v in variants if v.is_active]
    return {
        "search_text": fold(" ".join(words)),
        "name_key": fold(name_fr)[:200],
        "name_en_key": fold(name_en)[:200],
        "min_price": min(prices) if prices else None,
    }


async def refresh_derived(session: AsyncSession, product: Product) -> None:
    """Recompute the folded search text and the lowest active price of a product."""
    rows = await session.execute(
        select(Variant.sku, Variant.name, Variant.price, Variant.is_active).where(
            Variant.product_id == product.id
        )
    )
    values = derived_columns(
        reference=product.reference,
        name_fr=product.name_fr,
        name_en=product.name_en,
        description_fr=product.description_fr,
        description_en=product.description_en,
        variants=[VariantFacts(*row) for row in rows],
    )
    for key, value in values.items():
        setattr(product, key, value)
