"""The one write path of a payment's status: a conditional UPDATE whose WHERE clause is the rule
of `states.py`, so that two racing callers (a callback and a status check) cannot both move it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.payments.models import Payment
from loumo.payments.states import PAYMENT_MOVES, PaymentStatus


async def move_payment(
    session: AsyncSession, payment: Payment, to: PaymentStatus, **values: Any
) -> bool:
    """Move along the state machine if the current status allows it (one conditional UPDATE)."""
    moved = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.status.in_([s.value for s in PAYMENT_MOVES[to]]),
        )
        .values(status=to.value, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(payment)
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
