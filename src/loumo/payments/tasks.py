"""Jobs of the payments package: provider calls, status checks, webhooks, reconciliation, and
the jobs `orders` emits for payments (it never imports this package)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.context import current_job
from loumo.jobs.registry import PermanentJobError, job, periodic
from loumo.payments import attempts, reconciliation, refunds, settlement, webhooks
from loumo.payments.job_names import (
    CHECK_JOB,
    INITIATE_JOB,
    ORDER_CANCELLED_JOB,
    ORDER_LINE_SHORT_JOB,
    RECONCILE_JOB,
    REFUND_JOB,
    WEBHOOK_JOB,
)


def _str(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise PermanentJobError(f"payload needs {key!r}, got {payload!r}")
    return value


@job(INITIATE_JOB)
async def initiate(session: AsyncSession, payload: dict[str, Any]) -> None:
    """`{"payment_id"}`: ask the provider for the money."""
    await attempts.initiate(session, _str(payload, "payment_id"), current_job().settings)


@job(CHECK_JOB)
async def check(session: AsyncSession, payload: dict[str, Any]) -> None:
    """`{"payment_id"}`: fetch a payment's status and act on it."""
    await settlement.check(session, _str(payload, "payment_id"), current_job().settings)


@job(REFUND_JOB)
async def refund(session: AsyncSession, payload: dict[str, Any]) -> None:
    """`{"refund_id"}`: ask the provider to refund, or check on the refund."""
    await refunds.execute_refund(session, _str(payload, "refund_id"), current_job().settings)


@job(WEBHOOK_JOB)
async def webhook(session: AsyncSession, payload: dict[str, Any]) -> None:
    """`{"event_id"}`: process a stored provider notification."""
    await webhooks.process_event(session, _str(payload, "event_id"), current_job().settings)


@periodic(RECONCILE_JOB, every=30)
async def reconcile(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Queue a status check of every payment and refund still under way whose time has come."""
    await reconciliation.reconcile(session)


@job(ORDER_CANCELLED_JOB)
async def order_cancelled(session: AsyncSession, payload: dict[str, Any]) -> None:
    """`{"order_id"}`: refund what a cancelled order had taken."""
    await refunds.refund_cancelled_order(session, _str(payload, "order_id"))


@job(ORDER_LINE_SHORT_JOB)
async def order_line_short(session: AsyncSession, payload: dict[str, Any]) -> None:
    """`{"order_id", "item_id", "quantity"}`: refund a line the shop could not serve."""
    quantity = payload.get("quantity")
    if not isinstance(quantity, int) or quantity <= 0:
        raise PermanentJobError(f"order.line_short needs a positive quantity, got {payload!r}")
    await refunds.refund_short_line(
        session,
        _str(payload, "order_id"),
        _str(payload, "item_id"),
        quantity,
        cause=f"order.line_short:{current_job().job_id}",
    )
