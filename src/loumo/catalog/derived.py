"""Columns the service maintains on a product: folded search text, sort keys, lowest price.

Recomputed after every change to a product or its variants; the bulk seed computes them too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


TEXT_COLUMNS = ("reference", "name_fr", "name_en", "description_fr", "description_en")
"""The product columns its search text is made of."""


def derived_columns(texts: Mapping[str, Any], variants: Sequence[VariantFacts]) -> dict[str, Any]:
    """The service-maintained columns of a product from its `texts` (`TEXT_COLUMNS` by name:
    the product's values, or a row of the bulk seed) and its variants."""
    words = [texts[column] for column in TEXT_COLUMNS]
    words += [f"{v.sku} {v.name}" for v in variants]
    prices = [v.price for v in variants if v.is_active]
    return {
        "search_text": fold(" ".join(words)),
        "name_key": fold(texts["name_fr"])[:200],
        "name_en_key": fold(texts["name_en"])[:200],
        "min_price": min(prices) if prices else None,
    }


async def refresh_derived(session: AsyncSession, product: Product) -> None:
    """Recompute the folded search text and the lowest active price of a product."""
    rows = await session.execute(
        select(Variant.sku, Variant.name, Variant.price, Variant.is_active).where(
            Variant.product_id == product.id
        )
    )
    texts = {column: getattr(product, column) for column in TEXT_COLUMNS}
    values = derived_columns(texts, [VariantFacts(*row) for row in rows])
    for key, value in values.items():
        setattr(product, key, value)
