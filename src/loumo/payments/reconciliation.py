"""Reconciliation: when a payment or refund still under way is looked at again.

Every payment and refund in flight has a `next_check_at`; the periodic `payments.reconcile` job
queues a status check of those whose time has come. Checks back off: the first a while after
initiation, then doubling, capped. The checks themselves are `settlement.check` (payments) and
`refunds.execute_refund` (refunds).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.jobs.outbox import defer
from loumo.payments.job_names import CHECK_JOB, REFUND_JOB
from loumo.payments.models import Payment, Refund
from loumo.payments.states import IN_FLIGHT, RefundStatus

# The first status check a while after initiation, then doubling, capped.
FIRST_CHECK = timedelta(seconds=30)
MAX_CHECK_INTERVAL = timedelta(hours=1)
# A deposit the provider still does not know this long after we recorded it never arrived.
NOT_RECEIVED_AFTER = timedelta(minutes=15)
# While a check job is queued, the reconciler leaves the payment alone for this long.
CHECK_LEASE = timedelta(minutes=5)


def next_check(attempts: int) -> datetime:
    """When to look again after `attempts` checks that left the matter open."""
    interval: timedelta = min(FIRST_CHECK * (2 ** min(attempts, 20)), MAX_CHECK_INTERVAL)
    return utcnow() + interval


async def reconcile(session: AsyncSession, *, now: datetime | None = None, limit: int = 200) -> int:
    """Periodic: queue a status check of every payment and refund whose next check is due."""
    now = now or utcnow()
    payments = await _queue_due(
        session,
        Payment,
        (
            Payment.status.in_([s.value for s in IN_FLIGHT]),
            Payment.provider != "cash",
            Payment.next_check_at <= now,
        ),
        CHECK_JOB,
        "payment_id",
        now=now,
        limit=limit,
    )
    refunds = await _queue_due(
        session,
        Refund,
        (Refund.status == RefundStatus.PENDING, Refund.next_check_at <= now),
        REFUND_JOB,
        "refund_id",
        now=now,
        limit=limit,
    )
    return payments + refunds


async def _queue_due(
    session: AsyncSession,
    model: Any,
    due: tuple[Any, ...],
    job_name: str,
    id_key: str,
    *,
    now: datetime,
    limit: int,
) -> int:
    """Queue `job_name` for every row that is `due`, leaving it alone for CHECK_LEASE."""
    ids = list(await session.scalars(select(model.id).where(*due).limit(limit)))
    for row_id in ids:
        await session.execute(
            update(model)
            .where(model.id == row_id)
            .values(next_check_at=now + CHECK_LEASE)
            .execution_options(synchronize_session=False)
        )
        await defer(session, job_name, {id_key: row_id}, max_attempts=3)
    return len(ids)
