"""Jobs of the shops package."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.jobs.context import current_job
from loumo.jobs.registry import PermanentJobError, job, periodic
from loumo.shops.alerts import alert_low_stock
from loumo.shops.ledger import LOW_STOCK_JOB
from loumo.shops.reservations import release_stale

RELEASE_HOLDS_JOB = "stock.release_holds"

logger = structlog.get_logger("loumo.shops")


@job(LOW_STOCK_JOB)
async def low_stock(session: AsyncSession, payload: dict[str, Any]) -> None:
    """`{"shop_id", "variant_id"}`: a stock crossed below its threshold; tell who runs it."""
    shop_id, variant_id = payload.get("shop_id"), payload.get("variant_id")
    if not isinstance(shop_id, str) or not isinstance(variant_id, str):
        raise PermanentJobError(f"stock.low needs shop_id and variant_id, got {payload!r}")
    notified = await alert_low_stock(
        session, shop_id, variant_id, base_url=current_job().settings.public_base_url
    )
    logger.info("low_stock_alerted", shop_id=shop_id, variant_id=variant_id, notified=notified)


@periodic(RELEASE_HOLDS_JOB, every=timedelta(minutes=1))
async def release_stale_holds(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Give back the stock held by checkouts whose order never came (their process died
    between the hold and the order's commit): holds older than `STOCK_HOLD_SECONDS`."""
    seconds = current_job().settings.stock_hold_seconds
    released = await release_stale(session, held_before=utcnow() - timedelta(seconds=seconds))
    if released:
        logger.warning("stock_holds_released", count=released)
