"""Fidelity points: a ledger of entries per user; the balance is their sum.

Points are awarded once per (order, reason), so a retried job or a replayed event cannot award
them twice; they are taken back the same way (a negative entry, once per order and reason).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import FidelityEntry
from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.ids import new_id
from loumo.core.once import rowcount


async def award_points(
    session: AsyncSession, user_id: str, points: int, *, order_id: str, reason: str
) -> bool:
    """Give `user_id` `points` for `order_id`; False (and nothing recorded) when that order was
    already awarded for `reason`."""
    if points <= 0:
        raise ValueError(f"an award is a positive number of points, not {points}")
    return await _record(session, user_id, points, order_id=order_id, reason=reason)


async def take_back_points(
    session: AsyncSession, user_id: str, points: int, *, order_id: str, reason: str
) -> bool:
    """Take `points` back from `user_id` for `order_id` (a negative entry, e.g. for a refund);
    False (and nothing recorded) when that order already had points taken back for `reason`."""
    if points <= 0:
        raise ValueError(f"points taken back are a positive number, not {points}")
    return await _record(session, user_id, -points, order_id=order_id, reason=reason)


async def order_points(session: AsyncSession, order_id: str) -> int:
    """The net points an order has brought its buyer: awards less what was taken back."""
    total = await session.scalar(
        select(func.sum(FidelityEntry.points)).where(FidelityEntry.order_id == order_id)
    )
    return int(total or 0)


async def _record(
    session: AsyncSession, user_id: str, points: int, *, order_id: str, reason: str
) -> bool:
    """One ledger entry, unless (order, reason) already has one."""
    result = await session.execute(
        insert_ignoring_conflicts(session, FidelityEntry).values(
            id=new_id(),
            user_id=user_id,
            points=points,
            reason=reason,
            order_id=order_id,
            created_at=utcnow(),
        )
    )
    return bool(rowcount(result))


async def balance(session: AsyncSession, user_id: str) -> int:
    """The user's points: the sum of their ledger."""
    return (await balances(session, [user_id]))[user_id]


async def balances(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, int]:
    """The balance of each of `user_ids` (0 for a user without entries), in one query."""
    rows = await session.execute(
        select(FidelityEntry.user_id, func.sum(FidelityEntry.points))
        .where(FidelityEntry.user_id.in_(list(user_ids)))
        .group_by(FidelityEntry.user_id)
    )
    found = {user_id: int(total or 0) for user_id, total in rows}
    return {user_id: found.get(user_id, 0) for user_id in user_ids}
