"""Starting a payment: the record first (with its provider reference), then the provider call,
as the `payments.initiate` job once that record has committed."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.errors import BadRequest
from loumo.core.settings import Settings
from loumo.jobs.outbox import defer
from loumo.orders import payments_port as orders
from loumo.payments.errors import (
    CashOnDelivery,
    InvalidPhone,
    PaymentInFlight,
    PhoneRequired,
    ProviderUnavailable,
    ProviderUnreachable,
)
from loumo.payments.job_names import INITIATE_JOB
from loumo.payments.models import Payment
from loumo.payments.moves import move_payment
from loumo.payments.providers.base import DepositRequest, Outcome, ProviderError
from loumo.payments.providers.pawapay import PawaPayProvider
from loumo.payments.providers.registry import METHOD_PROVIDERS, provider_for
from loumo.payments.reconciliation import FIRST_CHECK
from loumo.payments.rows import load, provider_reference
from loumo.payments.schemas import PaymentCreate
from loumo.payments.settlement import apply_result
from loumo.payments.states import PaymentStatus

logger = structlog.get_logger("loumo.payments")


async def create_payment(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    data: PaymentCreate,
    settings: Settings,
) -> Payment:
    """Record a payment of the caller's order and queue the provider call (after commit)."""
    order = await orders.get_own_order_for_payment(session, principal, order_id)
    if data.method == "cash":
        raise CashOnDelivery("Cash orders are paid to the delivery agent; nothing to start")
    name = METHOD_PROVIDERS[data.method]
    if data.provider is not None and data.provider != name:
        raise BadRequest(f"{data.method} is paid through {name}, not {data.provider}")
    provider = provider_for(settings, name)
    phone = operator = None
    if isinstance(provider, PawaPayProvider):
        raw = data.phone or order.contact_phone
        if not raw:
            raise PhoneRequired("Give the mobile money number that pays")
        try:
            prediction = await provider.predict(raw)
        except ProviderError as error:
            raise InvalidPhone(error.message, provider_code=error.code) from error
        try:
            await provider.check_available(
                prediction.country, prediction.operator, order.total, order.currency
            )
        except ProviderError as error:
            raise ProviderUnavailable(error.message, provider_code=error.code) from error
        phone, operator = prediction.phone, prediction.operator
    payment = Payment(
        order_id=order.id,
        user_id=order.user_id,
        method=data.method,
        provider=name,
        reference=str(uuid.uuid4()),
        amount=order.total,
        currency=order.currency,
        phone=phone,
        operator=operator,
        status=PaymentStatus.PENDING.value,
        next_check_at=utcnow() + FIRST_CHECK,
    )
    try:
        async with session.begin_nested():
            session.add(payment)
    except exc.IntegrityError as error:  # the partial unique index: one attempt at a time
        raise PaymentInFlight("Wait for the payment under way to finish") from error
    await orders.set_payment_in_flight(session, order.id, True)
    await defer(session, INITIATE_JOB, {"payment_id": payment.id})
    logger.info("payment_created", payment_id=payment.id, order_id=order.id, provider=name)
    return payment


async def initiate(session: AsyncSession, payment_id: str, settings: Settings) -> None:
    """Job: ask the provider for the money of a recorded payment (once; repeats are safe)."""
    payment: Payment | None = await load(session, Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.PENDING:
        return
    provider = provider_for(settings, payment.provider)
    order = await orders.get_payable_order(session, payment.order_id)
    if order.status != "pending_payment" or order.payment_status != "unpaid":
        # Cancelled, expired or paid since: nobody is asked for money it could not take.
        if await move_payment(session, payment, PaymentStatus.CANCELLED, next_check_at=None):
            await orders.set_payment_in_flight(session, order.id, False)
        return
    result = await provider.initiate(
        DepositRequest(
            reference=payment.reference,
            amount=payment.amount,
            currency=payment.currency,
            phone=payment.phone,
            operator=payment.operator,
            description=f"Loumo {order.reference}",
            metadata={"orderId": order.id, "paymentId": payment.id},
        )
    )
    if result.outcome is Outcome.UNKNOWN:
        # The answer was lost: find out what happened instead of asking for the money again.
        result = await provider.fetch(provider_reference(payment))
    if result.outcome in {Outcome.UNKNOWN, Outcome.NOT_FOUND}:
        raise ProviderUnreachable(f"no answer about payment {payment.id} yet")
    await apply_result(session, payment, result)
