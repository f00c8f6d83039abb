"""The one write path of a payment's or a refund's status: a conditional UPDATE whose WHERE
clause is the rule of `states.py`, so that two racing callers (a callback and a status check)
cannot both move it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.core.once import rows_changed
from loumo.payments.models import Payment, Refund
from loumo.payments.states import PAYMENT_MOVES, REFUND_MOVES, PaymentStatus, RefundStatus


async def move_payment(
    session: AsyncSession, payment: Payment, to: PaymentStatus, **values: Any
) -> bool:
    """Move a payment to `to` if its current status allows it; whether it moved."""
    return await _move(session, payment, PAYMENT_MOVES[to], to, values)


async def move_refund(
    session: AsyncSession, refund: Refund, to: RefundStatus, **values: Any
) -> bool:
    """Move a refund to `to` if its current status allows it; whether it moved."""
    return await _move(session, refund, REFUND_MOVES[to], to, values)


async def _move(
    session: AsyncSession,
    row: Payment | Refund,
    allowed: Iterable[StrEnum],
    to: StrEnum,
    values: dict[str, Any],
) -> bool:
    """One conditional UPDATE, then `row` reloaded (moved or not, it shows the stored status)."""
    model = type(row)
    moved = await rows_changed(
        session,
        update(model)
        .where(model.id == row.id, model.status.in_([s.value for s in allowed]))
        .values(status=to.value, updated_at=utcnow(), **values),
    )
    await session.refresh(row)
    return moved == 1
