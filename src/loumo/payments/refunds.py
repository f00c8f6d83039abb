"""Refunds: recorded first, then asked of the provider by the `payments.refund` job; once the
provider has paid them back, `orders` records them (restock, customer told).

Staff refund wholly or by lines (`create_refund`, DESIGN.md's arithmetic in `orders`); a
cancelled paid order is refunded once per payment, a short line once per `order.line_short`
job, and money no order took once per payment (`settlement`).
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.settings import Settings
from loumo.jobs.outbox import defer
from loumo.orders import payments_port as orders
from loumo.payments.errors import (
    PaymentNotFound,
    PaymentNotRefundable,
    ProviderUnreachable,
    RefundExceedsPaid,
)
from loumo.payments.job_names import REFUND_JOB
from loumo.payments.models import Payment, Refund
from loumo.payments.moves import move_payment, move_refund
from loumo.payments.permissions import REFUND_PERMISSION
from loumo.payments.providers.base import (
    Outcome,
    PaymentProvider,
    ProviderResult,
    RefundRequest,
)
from loumo.payments.providers.registry import provider_for
from loumo.payments.reconciliation import FIRST_CHECK, next_check
from loumo.payments.rows import load, provider_reference, provider_refund_reference
from loumo.payments.schemas import RefundCreate
from loumo.payments.states import REFUNDABLE, PaymentStatus, RefundStatus

logger = structlog.get_logger("loumo.payments")


def _refundable(order_id: str) -> Select[Payment]:
    """The payments of an order whose money is in, with some left to give back."""
    return select(Payment).where(
        Payment.order_id == order_id,
        Payment.unclaimed.is_(False),
        Payment.status.in_([s.value for s in REFUNDABLE]),
    )


async def _caused(session: AsyncSession, cause: str) -> bool:
    """Whether a refund for `cause` was recorded already."""
    return await session.scalar(select(Refund.id).where(Refund.cause == cause)) is not None


async def start_refund(
    session: AsyncSession,
    payment: Payment,
    plan: orders.RefundPlan,
    *,
    reason: str,
    cause: str | None = None,
    created_by: str | None = None,
    applies_to_order: bool = True,
) -> Refund:
    """Record the refund `plan` of `payment` and queue the provider call; one per `cause`."""
    if cause is not None:
        existing = await session.scalar(select(Refund).where(Refund.cause == cause))
        if existing is not None:
            return existing
    refund = Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        reference=str(uuid.uuid4()),
        amount=plan.amount,
        currency=payment.currency,
        full=plan.full,
        lines=plan.stored_lines(),
        reason=reason,
        cause=cause,
        applies_to_order=applies_to_order,
        created_by=created_by,
        status=RefundStatus.PENDING.value,
        next_check_at=utcnow() + FIRST_CHECK,
    )
    session.add(refund)
    await session.flush()
    await defer(session, REFUND_JOB, {"refund_id": refund.id})
    return refund


async def create_refund(
    session: AsyncSession,
    principal: Principal,
    payment_id: str,
    data: RefundCreate,
    meta: RequestMeta | None,
) -> Refund:
    """Staff: refund a payment wholly or by lines (DESIGN.md's arithmetic, in `orders`).

    The route admits only `payments:refund` holders, who may refund any payment.
    """
    payment = await session.scalar(select(Payment).where(Payment.id == payment_id))
    if payment is None or not principal.has(REFUND_PERMISSION):
        raise PaymentNotFound(f"No payment {payment_id}")
    if payment.unclaimed or payment.status not in REFUNDABLE:
        raise PaymentNotRefundable(f"Payment {payment.id} is {payment.status}: nothing to refund")
    lines = (
        [orders.RefundLineRequest(x.item_id, x.quantity, x.restock) for x in data.lines]
        if data.lines
        else None
    )
    plan = await orders.plan_refund(session, payment.order_id, lines)
    pending = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id, Refund.status == RefundStatus.PENDING
        )
    )
    if payment.refunded_amount + int(pending or 0) + plan.amount > payment.amount:
        raise RefundExceedsPaid(
            f"{plan.amount} more would exceed the {payment.amount} paid "
            f"({payment.refunded_amount} refunded, {pending} under way)"
        )
    refund = await start_refund(
        session, payment, plan, reason="staff", created_by=principal.user_id
    )
    await audit.record(
        session,
        meta,
        "payment.refund",
        actor_id=principal.user_id,
        entity_type="payment",
        entity_id=payment.id,
        diff={
            "refund_id": refund.id,
            "amount": refund.amount,
            "full": refund.full,
            "lines": refund.lines,
            "note": data.note,
        },
    )
    return refund


async def execute_refund(session: AsyncSession, refund_id: str, settings: Settings) -> None:
    """Job: ask the provider to refund (the same refund reference makes repeats harmless), or
    check on a refund already asked for."""
    refund: Refund | None = await load(session, Refund, refund_id)
    if refund is None or refund.status != RefundStatus.PENDING:
        return
    payment: Payment = await load(session, Payment, refund.payment_id)
    provider: PaymentProvider = provider_for(settings, payment.provider)
    result = await provider.refund(
        RefundRequest(refund.reference, provider_reference(payment), refund.amount, refund.currency)
    )
    if result.outcome is Outcome.UNKNOWN:
        result = await provider.fetch_refund(provider_refund_reference(refund, payment.provider))
    if result.outcome in {Outcome.UNKNOWN, Outcome.NOT_FOUND}:
        raise ProviderUnreachable(f"no answer about refund {refund.id} yet")
    await apply_refund_result(session, refund, result)


async def apply_refund_result(
    session: AsyncSession, refund: Refund, result: ProviderResult
) -> None:
    """Act on what the provider says about a refund: look again later, or record its end."""
    if result.provider_transaction_id and not refund.provider_refund_id:
        refund.provider_refund_id = result.provider_transaction_id
        await session.flush()
    if result.outcome is Outcome.PENDING or result.outcome is Outcome.UNKNOWN:
        refund.attempts += 1
        refund.next_check_at = next_check(refund.attempts)
        await session.flush()
        return
    target = RefundStatus.SUCCEEDED if result.outcome is Outcome.SUCCEEDED else RefundStatus.FAILED
    if not await move_refund(
        session,
        refund,
        target,
        failure_code=result.failure_code if target is RefundStatus.FAILED else None,
        next_check_at=None,
    ):
        return
    if target is RefundStatus.FAILED:
        logger.error("refund_failed", refund_id=refund.id, code=result.failure_code)
        return
    if refund.applies_to_order:
        plan = orders.RefundPlan(
            refund.order_id,
            refund.amount,
            refund.currency,
            refund.full,
            tuple(
                orders.RefundLineRequest(
                    str(x["item_id"]), int(x["quantity"]), bool(x.get("restock"))
                )
                for x in refund.lines
            ),
        )
        await orders.apply_refund(session, refund.order_id, plan, refund_id=refund.id)
    payment: Payment = await load(session, Payment, refund.payment_id)
    refunded = payment.refunded_amount + refund.amount
    to = PaymentStatus.REFUNDED if refunded >= payment.amount else PaymentStatus.PARTIALLY_REFUNDED
    await move_payment(session, payment, to, refunded_amount=refunded)
    logger.info("refund_succeeded", refund_id=refund.id, amount=refund.amount)


# -- What orders asks of payments (the `order.cancelled` and `order.line_short` jobs) ---------


async def refund_cancelled_order(session: AsyncSession, order_id: str) -> int:
    """`order.cancelled`: refund in full every payment the order took; how many refunds."""
    started = 0
    for payment in await session.scalars(_refundable(order_id)):
        cause = f"order.cancelled:{payment.id}"
        if await _caused(session, cause):
            continue
        try:
            plan = await orders.plan_refund(session, order_id, None)  # the whole remaining order
        except orders.RefundExceedsPaid:
            continue  # nothing left: refunded already
        await start_refund(session, payment, plan, reason="order_cancelled", cause=cause)
        started += 1
    return started


async def refund_short_line(
    session: AsyncSession, order_id: str, item_id: str, quantity: int, *, cause: str
) -> bool:
    """`order.line_short`: refund a line a shop could not serve (no restock: it was not there)."""
    payment = await session.scalar(_refundable(order_id))
    if payment is None or await _caused(session, cause):
        return False
    line = orders.RefundLineRequest(item_id, quantity, restock=False)
    plan = await orders.plan_refund(session, order_id, [line])
    await start_refund(session, payment, plan, reason="line_short", cause=cause)
    return True
