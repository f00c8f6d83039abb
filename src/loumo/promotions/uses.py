"""Counting a promotion's uses: held by placed orders (`hold_use`, given back by `release_use`)
and counted by paid ones (`redeem`, idempotent per order after a hold), with a conditional UPDATE
that can never pass `max_uses`, whatever the concurrency."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.errors import Conflict
from loumo.promotions.models import Promotion, PromotionRedemption


class PromotionUnavailable(Conflict):
    code, title = "promotion_unavailable", "Promotion unavailable"


async def customer_uses(session: AsyncSession, promotion_id: str, user_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(PromotionRedemption)
            .where(
                PromotionRedemption.promotion_id == promotion_id,
                PromotionRedemption.user_id == user_id,
            )
        )
        or 0
    )


async def redeem(
    session: AsyncSession, *, promotion_id: str, user_id: str, order_id: str, discount: int
) -> None:
    """Count one use by a paid order; idempotent per order, never past the limits.

    The conditional UPDATE takes the promotion's row lock, so concurrent redemptions of the same
    promotion are serialised for the per-customer count that follows; a refusal raises and the
    caller's transaction rolls the increment back.
    """
    already = await session.scalar(
        select(PromotionRedemption.id).where(
            PromotionRedemption.promotion_id == promotion_id,
            PromotionRedemption.order_id == order_id,
        )
    )
    if already:
        return
    counted = await session.execute(
        update(Promotion)
        .where(
            Promotion.id == promotion_id,
            (Promotion.max_uses.is_(None)) | (Promotion.uses_count < Promotion.max_uses),
        )
        .values(uses_count=Promotion.uses_count + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        raise PromotionUnavailable("This promotion has been used up")
    limit = await session.scalar(
        select(Promotion.max_uses_per_customer).where(Promotion.id == promotion_id)
    )
    if limit is not None and await customer_uses(session, promotion_id, user_id) >= limit:
        raise PromotionUnavailable("This customer has used the promotion as often as allowed")
    session.add(
        PromotionRedemption(
            promotion_id=promotion_id, user_id=user_id, order_id=order_id, discount=discount
        )
    )
    await session.flush()


async def hold_use(
    session: AsyncSession, *, promotion_id: str, user_id: str, order_id: str, discount: int
) -> None:
    """Hold one use for a placed order, race-safe, before any money moves.

    A held use is a redemption row, so `max_uses` and the per-customer limit count it at once;
    a settled payment's `redeem` then finds it and does nothing; `release_use` gives it back
    when the order is cancelled or expires. Raises `PromotionUnavailable` when none is left.
    """
    await redeem(
        session, promotion_id=promotion_id, user_id=user_id, order_id=order_id, discount=discount
    )


async def release_use(session: AsyncSession, *, promotion_id: str, order_id: str) -> bool:
    """Give back the use held (or redeemed) by `order_id`; False when it held none (idempotent)."""
    released = await session.execute(
        delete(PromotionRedemption)
        .where(
            PromotionRedemption.promotion_id == promotion_id,
            PromotionRedemption.order_id == order_id,
        )
        .returning(PromotionRedemption.id)
        .execution_options(synchronize_session=False)
    )
    if released.first() is None:
        return False
    await session.execute(
        update(Promotion)
        .where(Promotion.id == promotion_id, Promotion.uses_count > 0)
        .values(uses_count=Promotion.uses_count - 1)
        .execution_options(synchronize_session=False)
    )
    return True
