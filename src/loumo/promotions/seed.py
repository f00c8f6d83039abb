"""Demo promotions, from `demo_promotions.json` (idempotent: existing codes are left alone)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Category
from loumo.core.data_files import read_data
from loumo.promotions import service
from loumo.promotions.models import Promotion
from loumo.promotions.schemas import PromotionCreate


async def seed_promotions(session: AsyncSession) -> int:
    """A welcome code, a category discount and a fixed amount off; returns how many were made."""
    category_id = await session.scalar(
        select(Category.id).where(Category.parent_id.is_(None)).order_by(Category.position).limit(1)
    )
    # one promotion scoped to `categories` targets the first root category (none: left out)
    demos: list[dict[str, Any]] = read_data("loumo.promotions", "demo_promotions.json")
    wanted = [
        PromotionCreate.model_validate(
            demo | {"target_ids": [category_id]} if demo.get("scope") == "categories" else demo
        )
        for demo in demos
        if category_id or demo.get("scope") != "categories"
    ]
    existing = set(await session.scalars(select(Promotion.code)))
    made = 0
    for data in wanted:
        if data.code not in existing:
            await service.create_promotion(session, data)
            made += 1
    return made
