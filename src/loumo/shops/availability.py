"""Stock availability for the catalog's reads (the catalog sits below shops).

`loumo.wiring` registers `SHOP_AVAILABILITY` with
`loumo.catalog.availability.register_availability_source`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.availability import Availability
from loumo.catalog.models import Variant
from loumo.shops.models import Shop, Stock


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


SHOP_AVAILABILITY = ShopAvailability()
