"""Jobs of the payments package: provider calls, status checks, webhooks, reconciliation, and
the jobs `orders` emits for payments (it never imports this package)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.settings import Settings
from loumo.jobs.context import current_job
from loumo.jobs.registry import Handler, PermanentJobError, job, periodic
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


IdWork = Callable[[AsyncSession, str, Settings], Awaitable[None]]

# The jobs whose payload is one id, handed with the settings to the service that acts on it.
BY_ID: dict[str, tuple[str, IdWork]] = {
    INITIATE_JOB: ("payment_id", attempts.initiate),  # ask the provider for the money
    CHECK_JOB: ("payment_id", settlement.check),  # fetch a payment's status and act on it
    REFUND_JOB: ("refund_id", refunds.execute_refund),  # ask to refund, or check on the refund
    WEBHOOK_JOB: ("event_id", webhooks.process_event),  # process a stored provider notification
}


def _by_id(key: str, work: IdWork) -> Handler:
    async def handler(session: AsyncSession, payload: dict[str, Any]) -> None:
        await work(session, _str(payload, key), current_job().settings)

    return handler


for _name, (_key, _work) in BY_ID.items():
    job(_name)(_by_id(_key, _work))


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
