"""Provider notifications: authenticated, stored once (`webhook_events`), answered, and then
processed by the `payments.webhook` job, which fetches the status from the provider before
anything moves: a callback only says which payment or refund to look at."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.settings import Settings
from loumo.jobs.outbox import defer
from loumo.payments.errors import CallbackNotAuthentic, ProviderUnreachable
from loumo.payments.job_names import WEBHOOK_JOB
from loumo.payments.models import Payment, Refund, WebhookEvent
from loumo.payments.providers.base import CallbackRejected, CallbackRequest, Outcome
from loumo.payments.providers.registry import provider_for
from loumo.payments.refunds import apply_refund_result
from loumo.payments.rows import load, provider_reference, provider_refund_reference
from loumo.payments.settlement import apply_result

logger = structlog.get_logger("loumo.payments")


async def receive_callback(
    session: AsyncSession,
    settings: Settings,
    provider_name: str,
    callback: CallbackRequest,
) -> bool:
    """Authenticate and store a provider notification once, and queue its processing.

    True when it is new. A callback that is not genuine is refused (400) and changes nothing.
    """
    provider = provider_for(settings, provider_name)
    try:
        event = provider.parse_callback(callback)
    except CallbackRejected as error:
        logger.warning("callback_rejected", provider=provider_name, reason=str(error))
        raise CallbackNotAuthentic("The callback could not be authenticated") from error
    row_id = uuid.uuid4().hex
    stored = await session.execute(
        insert_ignoring_conflicts(
            session, WebhookEvent.__table__, index_elements=["provider", "event_id"]
        )
        .values(
            id=row_id,
            provider=provider_name,
            event_id=event.event_id[:200],
            kind=event.kind,
            reference=event.reference[:64],
            status=event.status[:64],
            payload=event.payload,
            created_at=utcnow(),
        )
        .returning(WebhookEvent.id)
    )
    if stored.first() is None:
        logger.info("callback_duplicate", provider=provider_name, event_id=event.event_id)
        return False
    await defer(session, WEBHOOK_JOB, {"event_id": row_id})
    return True


async def process_event(session: AsyncSession, event_id: str, settings: Settings) -> None:
    """Job: look at what a notification names, with the provider's own status."""
    event: WebhookEvent | None = await load(session, WebhookEvent, event_id)
    if event is None or event.processed_at is not None:
        return
    provider = provider_for(settings, event.provider)
    if event.kind == "deposit":
        by = Payment.provider_payment_id if event.provider == "stripe" else Payment.reference
        payment = await session.scalar(
            select(Payment).where(by == event.reference, Payment.provider == event.provider)
        )
        if payment is None:
            logger.warning("callback_unknown_payment", event_id=event.event_id)
        else:
            result = await provider.fetch(provider_reference(payment))
            if result.outcome is Outcome.UNKNOWN:
                raise ProviderUnreachable(f"no status for payment {payment.id}")
            await apply_result(session, payment, result)
    else:
        by = Refund.provider_refund_id if event.provider == "stripe" else Refund.reference
        refund = await session.scalar(select(Refund).where(by == event.reference))
        if refund is None:
            logger.warning("callback_unknown_refund", event_id=event.event_id)
        else:
            result = await provider.fetch_refund(provider_refund_reference(refund, event.provider))
            if result.outcome is Outcome.UNKNOWN:
                raise ProviderUnreachable(f"no status for refund {refund.id}")
            await apply_refund_result(session, refund, result)
    event.processed_at = utcnow()
    await session.flush()
