"""Payment and refund rows as the jobs need them: reloaded fresh, and the id the provider knows
each one by."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.payments.models import Payment, Refund


async def load(session: AsyncSession, model: Any, row_id: str) -> Any:
    """The row `row_id` of `model` as the database has it now (None when there is none)."""
    return await session.scalar(
        select(model).where(model.id == row_id).execution_options(populate_existing=True)
    )


def provider_reference(payment: Payment) -> str:
    """What the provider knows the payment by: pawaPay our depositId, Stripe its intent id."""
    if payment.provider == "stripe":
        return payment.provider_payment_id or payment.reference
    return payment.reference


def provider_refund_reference(refund: Refund, provider: str) -> str:
    """What the provider knows the refund by: pawaPay our refundId, Stripe its refund id."""
    if provider == "stripe":
        return refund.provider_refund_id or refund.reference
    return refund.reference
