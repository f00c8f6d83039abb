"""Jobs of the orders package: expiring unpaid orders, completing delivered ones, and purging
spent idempotency keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.content import settings as business
from loumo.core.idempotency import purge_expired
from loumo.jobs.context import current_job
from loumo.jobs.registry import periodic
from loumo.orders.closing import complete_due, expire_due

logger = structlog.get_logger("loumo.orders")

EXPIRE_JOB = "orders.expire"
COMPLETE_JOB = "orders.complete"
PURGE_KEYS_JOB = "idempotency.purge"


@periodic(EXPIRE_JOB, every=timedelta(minutes=1))
async def expire_unpaid_orders(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Expire prepaid orders unpaid past `ORDER_PAYMENT_TIMEOUT` (none with a payment in
    flight: reconciliation decides those first), giving their stock and promotion use back."""
    expired = await expire_due(session)
    if expired:
        logger.info("orders_expired", count=expired)


@periodic(COMPLETE_JOB, every=timedelta(minutes=5))
async def complete_delivered_orders(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Complete orders delivered `order_complete_after` ago (each once), awarding their
    fidelity points at `fidelity_rate` and telling their buyers (both `/settings`, whose
    defaults are `ORDER_COMPLETE_AFTER` and `FIDELITY_RATE`)."""
    settings = current_job().settings
    completed = await complete_due(
        session,
        after=await business.value(session, business.ORDER_COMPLETE_AFTER, settings),
        fidelity_rate=await business.value(session, business.FIDELITY_RATE, settings),
    )
    if completed:
        logger.info("orders_completed", count=completed)


@periodic(PURGE_KEYS_JOB, every=timedelta(hours=1))
async def purge_idempotency_keys(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Delete the idempotency keys past their expiry."""
    purged = await purge_expired(session)
    if purged:
        logger.info("idempotency_keys_purged", count=purged)
