"""Settling a payment from the provider's word: what an initiation or a status fetch says moves
the payment, and a success settles the order through `orders`.

Money no order can take (already paid by another payment, cancelled, expired, another amount)
is marked unclaimed, logged and refunded in full. Cash is settled the same way, when the
delivery agent has collected it (`record_cash_payment`).
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.core.settings import Settings
from loumo.orders import payments_port as orders
from loumo.payments.errors import NotCashOrder
from loumo.payments.models import Payment
from loumo.payments.moves import move_payment
from loumo.payments.providers.base import Outcome, ProviderResult
from loumo.payments.providers.registry import provider_for
from loumo.payments.reconciliation import NOT_RECEIVED_AFTER, next_check
from loumo.payments.refunds import start_refund
from loumo.payments.rows import load, provider_reference
from loumo.payments.states import IN_FLIGHT, PaymentStatus

logger = structlog.get_logger("loumo.payments")


async def apply_result(session: AsyncSession, payment: Payment, result: ProviderResult) -> None:
    """Act on what the provider says about a payment (from an initiation or a status fetch)."""
    if result.provider_transaction_id and not payment.provider_payment_id:
        payment.provider_payment_id = result.provider_transaction_id
    if result.client_secret:
        payment.client_secret = result.client_secret
    await session.flush()
    if result.outcome is Outcome.SUCCEEDED:
        await _succeeded(session, payment, result)
    elif result.outcome is Outcome.FAILED:
        await _failed(
            session,
            payment,
            result.failure_code or "FAILED",
            result.failure_message or "the payment failed",
        )
    elif result.outcome is Outcome.PENDING:
        await move_payment(session, payment, PaymentStatus.PROCESSING)
        await _schedule_check(session, payment)
    elif (
        result.outcome is Outcome.NOT_FOUND and payment.created_at <= utcnow() - NOT_RECEIVED_AFTER
    ):
        await _failed(session, payment, "NOT_RECEIVED", "the provider never received it")
    else:
        await _schedule_check(session, payment)


async def check(session: AsyncSession, payment_id: str, settings: Settings) -> None:
    """Job: fetch a payment's status from its provider and act on it."""
    payment: Payment | None = await load(session, Payment, payment_id)
    if payment is None or payment.status not in IN_FLIGHT:
        return
    result = await provider_for(settings, payment.provider).fetch(provider_reference(payment))
    await apply_result(session, payment, result)


async def _schedule_check(session: AsyncSession, payment: Payment) -> None:
    if payment.status not in IN_FLIGHT:
        return
    payment.attempts += 1
    payment.next_check_at = next_check(payment.attempts)
    await session.flush()


async def _succeeded(session: AsyncSession, payment: Payment, result: ProviderResult) -> None:
    received = result.amount if result.amount is not None else payment.amount
    currency = result.currency or payment.currency
    if not await move_payment(
        session, payment, PaymentStatus.SUCCEEDED, settled_at=utcnow(), next_check_at=None
    ):
        if payment.status in {PaymentStatus.FAILED, PaymentStatus.CANCELLED}:
            # Money after we had given up on it: it goes back to the payer.
            logger.error("payment_money_after_final", payment_id=payment.id, status=payment.status)
            await _give_back(session, payment, received)
        return  # already settled: a repeated callback or check has one effect
    took = await orders.settle_payment(
        session,
        payment.order_id,
        payment_id=payment.id,
        amount=received,
        currency=currency,
        method=payment.method,
    )
    if took:
        logger.info("payment_succeeded", payment_id=payment.id, order_id=payment.order_id)
        return
    await orders.set_payment_in_flight(session, payment.order_id, False)
    logger.warning(
        "payment_unclaimed_refunded",
        payment_id=payment.id,
        order_id=payment.order_id,
        amount=received,
        currency=currency,
    )
    await _give_back(session, payment, received)


async def _give_back(session: AsyncSession, payment: Payment, amount: int) -> None:
    """Refund in full money that no order took (once per payment)."""
    payment.unclaimed = True
    everything = orders.RefundPlan(payment.order_id, amount, payment.currency, True, ())
    await start_refund(
        session,
        payment,
        everything,
        reason="unclaimed",
        cause=f"unclaimed:{payment.id}",
        applies_to_order=False,
    )


async def _failed(session: AsyncSession, payment: Payment, code: str, message: str) -> None:
    if not await move_payment(
        session,
        payment,
        PaymentStatus.FAILED,
        failure_code=code[:64],
        failure_reason=message,
        next_check_at=None,
    ):
        return
    await orders.set_payment_in_flight(session, payment.order_id, False)
    await orders.note_payment_failed(
        session, payment.order_id, payment_id=payment.id, reason=f"{code}: {message}"
    )
    logger.info("payment_failed", payment_id=payment.id, code=code)


async def record_cash_payment(
    session: AsyncSession, order_id: str, amount: int, collected_by: str
) -> Payment:
    """The delivery agent collected the cash of a cash order (called by `delivery` at closing).

    Idempotent: a second call for the same order returns the recorded payment.
    """
    order = await orders.get_payable_order(session, order_id)
    if order.payment_method != "cash":
        raise NotCashOrder(f"Order {order.reference} is not paid in cash")
    existing = await session.scalar(
        select(Payment).where(
            Payment.order_id == order_id,
            Payment.provider == "cash",
            Payment.status != PaymentStatus.FAILED,
        )
    )
    if existing is not None:
        return existing
    payment = Payment(
        order_id=order.id,
        user_id=order.user_id,
        method="cash",
        provider="cash",
        reference=str(uuid.uuid4()),
        amount=amount,
        currency=order.currency,
        status=PaymentStatus.PENDING.value,
        collected_by=collected_by,
    )
    session.add(payment)
    await session.flush()
    await _succeeded(
        session,
        payment,
        ProviderResult(
            Outcome.SUCCEEDED, payment.reference, amount=amount, currency=order.currency
        ),
    )
    return payment
