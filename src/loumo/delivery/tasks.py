"""Jobs of the delivery package: the periodic assignment of ready fulfilments to agents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.content import settings as business
from loumo.delivery.dispatch import assign_ready
from loumo.jobs.context import current_job
from loumo.jobs.registry import periodic

logger = structlog.get_logger("loumo.delivery")

ASSIGN_JOB = "delivery.assign"


@periodic(ASSIGN_JOB, every=timedelta(minutes=1))
async def assign_ready_fulfilments(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Give every ready fulfilment without a delivery to the fairest available agent of its
    zone (fewest deliveries carried, then idle longest), unless staff switched the
    `delivery_auto_assign` setting off."""
    settings = current_job().settings
    if not await business.value(session, business.DELIVERY_AUTO_ASSIGN, settings):
        return
    assigned = await assign_ready(session)
    if assigned:
        logger.info("deliveries_assigned", count=assigned)
