"""Demo promotions (idempotent: existing codes are left alone)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Category
from loumo.promotions import service
from loumo.promotions.models import Promotion
from loumo.promotions.schemas import PromotionCreate


async def seed_promotions(session: AsyncSession) -> int:
    """A welcome code, a category discount and a fixed amount off; returns how many were made."""
    category_id = await session.scalar(
        select(Category.id).where(Category.parent_id.is_(None)).order_by(Category.position).limit(1)
    )
    wanted = [
        PromotionCreate(
            code="BIENVENUE10",
            description="10 % sur la première commande dès 5 000 XAF",
            kind="percentage",
            value=10,
            min_order_amount=5000,
            max_uses_per_customer=1,
        ),
        PromotionCreate(
            code="MOINS1000",
            description="1 000 XAF de moins dès 15 000 XAF",
            kind="fixed",
            value=1000,
            min_order_amount=15000,
            max_uses=500,
        ),
    ]
    if category_id:
        wanted.append(
            PromotionCreate(
                code="RAYON15",
                description="15 % sur un rayon",
                kind="percentage",
                value=15,
                scope="categories",
                target_ids=[category_id],
            )
        )
    existing = set(await session.scalars(select(Promotion.code)))
    made = 0
    for data in wanted:
        if data.code not in existing:
            await service.create_promotion(session, data)
            made += 1
    return made
