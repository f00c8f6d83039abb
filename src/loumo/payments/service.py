"""The Payment service: start a payment, settle it from the provider's word, refund it.

Rules that hold everywhere here:
- a payment is recorded (with its provider reference) before any provider is called, and the
  call itself runs as a job after that record commits;
- only the provider's authenticated word moves a payment: a verified callback says *which*
  payment to look at, and its status is always fetched from the provider before settling;
- `orders` decides whether an order takes the money (`settle_payment`); money it cannot take
  (already paid, cancelled, expired) is refunded automatically and logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import exc, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.errors import BadRequest, Conflict, NotFound
from loumo.core.settings import Settings
from loumo.jobs.outbox import defer
from loumo.orders import payments_port as orders
from loumo.payments import READ_PERMISSION, REFUND_PERMISSION
from loumo.payments.models import Payment, Refund, WebhookEvent
from loumo.payments.providers.base import (
    CallbackRejected,
    DepositRequest,
    Outcome,
    PaymentProvider,
    ProviderError,
    ProviderResult,
    RefundRequest,
)
from loumo.payments.providers.pawapay import PawaPayProvider
from loumo.payments.providers.registry import METHOD_PROVIDERS, provider_for
from loumo.payments.schemas import PaymentCreate, RefundCreate
from loumo.payments.states import (
    IN_FLIGHT,
    PAYMENT_MOVES,
    PaymentStatus,
    RefundStatus,
)

logger = structlog.get_logger("loumo.payments")


INITIATE_JOB = "payments.initiate"
CHECK_JOB = "payments.check"
REFUND_JOB = "payments.refund"
WEBHOOK_JOB = "payments.webhook"
RECONCILE_JOB = "payments.reconcile"

# Reconciliation: the first status check a while after initiation, then doubling, capped.
FIRST_CHECK = timedelta(seconds=30)
MAX_CHECK_INTERVAL = timedelta(hours=1)
# A deposit the provider still does not know this long after we recorded it never arrived.
NOT_RECEIVED_AFTER = timedelta(minutes=15)
# While a check job is queued, the reconciler leaves the payment alone for this long.
CHECK_LEASE = timedelta(minutes=5)


class PaymentNotFound(NotFound):
    code, title = "not_found", "Payment not found"


class PaymentInFlight(Conflict):
    code, title = "payment_in_flight", "A payment of this order is under way"


class CashOnDelivery(Conflict):
    code, title = "cash_on_delivery", "Cash is collected on delivery"


class PhoneRequired(BadRequest):
    code, title = "phone_required", "A mobile money number is required"


class InvalidPhone(BadRequest):
    code, title = "invalid_phone", "Not a mobile money number"


class ProviderUnavailable(Conflict):
    code, title = "provider_unavailable", "Mobile money provider unavailable"


class PaymentNotRefundable(Conflict):
    code, title = "payment_not_refundable", "Payment not refundable"


class RefundExceedsPaid(Conflict):
    code, title = "refund_exceeds_paid", "Refund exceeds what was paid"


class CallbackNotAuthentic(BadRequest):
    code, title = "callback_rejected", "Callback rejected"


class NotCashOrder(Conflict):
    code, title = "not_cash_order", "Not a cash order"


class ProviderUnreachable(Exception):
    """No usable answer from the provider: the job is retried (the same references make a
    repeat harmless)."""


# -- Reading -------------------------------------------------------------------------------------


def _visible(principal: Principal) -> Any:
    """The one ownership rule: your own payments, or every payment with `payments:read`."""
    if principal.has(READ_PERMISSION):
        return True
    return Payment.user_id == principal.user_id


async def get_payment(session: AsyncSession, principal: Principal, payment_id: str) -> Payment:
    payment = await session.scalar(
        select(Payment).where(Payment.id == payment_id, _visible(principal))
    )
    if payment is None:
        raise PaymentNotFound(f"No payment {payment_id}")
    return payment


async def list_order_payments(
    session: AsyncSession, principal: Principal, order_id: str
) -> list[Payment]:
    """The payments of an order of yours (or any order, with `payments:read`), newest first."""
    try:
        order = await orders.get_payable_order(session, order_id)
    except NotFound:
        order = None
    if order is None or not (order.user_id == principal.user_id or principal.has(READ_PERMISSION)):
        raise NotFound(f"No order {order_id}")
    rows = await session.scalars(
        select(Payment)
        .where(Payment.order_id == order_id)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    )
    return list(rows)


# -- Starting a payment --------------------------------------------------------------------------


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


def _external(payment: Payment) -> str:
    """What the provider knows the payment by: pawaPay our depositId, Stripe its intent id."""
    if payment.provider == "stripe":
        return payment.provider_payment_id or payment.reference
    return payment.reference


async def _load(session: AsyncSession, model: Any, row_id: str) -> Any:
    return await session.scalar(
        select(model).where(model.id == row_id).execution_options(populate_existing=True)
    )


async def initiate(session: AsyncSession, payment_id: str, settings: Settings) -> None:
    """Job: ask the provider for the money of a recorded payment (once; repeats are safe)."""
    payment: Payment | None = await _load(session, Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.PENDING:
        return
    provider = provider_for(settings, payment.provider)
    order = await orders.get_payable_order(session, payment.order_id)
    if order.status != "pending_payment" or order.payment_status != "unpaid":
        # Cancelled, expired or paid since: nobody is asked for money it could not take.
        if await _move(session, payment, PaymentStatus.CANCELLED, next_check_at=None):
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
        result = await provider.fetch(_external(payment))
    if result.outcome in {Outcome.UNKNOWN, Outcome.NOT_FOUND}:
        raise ProviderUnreachable(f"no answer about payment {payment.id} yet")
    await apply_result(session, payment, result)


# -- Settling from the provider's word -----------------------------------------------------------


async def _move(session: AsyncSession, payment: Payment, to: PaymentStatus, **values: Any) -> bool:
    """Move along the state machine if the current status allows it (one conditional UPDATE)."""
    moved = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.status.in_([s.value for s in PAYMENT_MOVES[to]]),
        )
        .values(status=to.value, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(payment)
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def _next_check(attempts: int) -> datetime:
    interval: timedelta = min(FIRST_CHECK * (2 ** min(attempts, 20)), MAX_CHECK_INTERVAL)
    return utcnow() + interval


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
        await _move(session, payment, PaymentStatus.PROCESSING)
        await _schedule_check(session, payment)
    elif (
        result.outcome is Outcome.NOT_FOUND and payment.created_at <= utcnow() - NOT_RECEIVED_AFTER
    ):
        await _failed(session, payment, "NOT_RECEIVED", "the provider never received it")
    else:
        await _schedule_check(session, payment)


async def _schedule_check(session: AsyncSession, payment: Payment) -> None:
    if payment.status not in IN_FLIGHT:
        return
    payment.attempts += 1
    payment.next_check_at = _next_check(payment.attempts)
    await session.flush()


async def _succeeded(session: AsyncSession, payment: Payment, result: ProviderResult) -> None:
    received = result.amount if result.amount is not None else payment.amount
    currency = result.currency or payment.currency
    if not await _move(
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
    await _start_refund(
        session,
        payment,
        amount=amount,
        full=True,
        lines=[],
        reason="unclaimed",
        cause=f"unclaimed:{payment.id}",
        applies_to_order=False,
    )


async def _failed(session: AsyncSession, payment: Payment, code: str, message: str) -> None:
    if not await _move(
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


async def check(session: AsyncSession, payment_id: str, settings: Settings) -> None:
    """Job: fetch a payment's status from its provider and act on it."""
    payment: Payment | None = await _load(session, Payment, payment_id)
    if payment is None or payment.status not in IN_FLIGHT:
        return
    result = await provider_for(settings, payment.provider).fetch(_external(payment))
    await apply_result(session, payment, result)


async def reconcile(session: AsyncSession, *, now: datetime | None = None, limit: int = 200) -> int:
    """Periodic: queue a status check of every payment and refund whose next check is due."""
    now = now or utcnow()
    payments = await _queue_due(
        session,
        Payment,
        (
            Payment.status.in_([s.value for s in IN_FLIGHT]),
            Payment.provider != "cash",
            Payment.next_check_at <= now,
        ),
        CHECK_JOB,
        "payment_id",
        now=now,
        limit=limit,
    )
    refunds = await _queue_due(
        session,
        Refund,
        (Refund.status == RefundStatus.PENDING, Refund.next_check_at <= now),
        REFUND_JOB,
        "refund_id",
        now=now,
        limit=limit,
    )
    return payments + refunds


async def _queue_due(
    session: AsyncSession,
    model: Any,
    due: tuple[Any, ...],
    job_name: str,
    id_key: str,
    *,
    now: datetime,
    limit: int,
) -> int:
    """Queue `job_name` for every row that is `due`, leaving it alone for CHECK_LEASE."""
    ids = list(await session.scalars(select(model.id).where(*due).limit(limit)))
    for row_id in ids:
        await session.execute(
            update(model)
            .where(model.id == row_id)
            .values(next_check_at=now + CHECK_LEASE)
            .execution_options(synchronize_session=False)
        )
        await defer(session, job_name, {id_key: row_id}, max_attempts=3)
    return len(ids)


# -- Webhooks ------------------------------------------------------------------------------------


async def receive_callback(
    session: AsyncSession,
    settings: Settings,
    *,
    provider_name: str,
    kind: str,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> bool:
    """Authenticate and store a provider notification once, and queue its processing.

    True when it is new. A callback that is not genuine is refused (400) and changes nothing.
    """
    provider = provider_for(settings, provider_name)
    try:
        event = provider.parse_callback(
            kind=kind, method=method, url=url, headers=headers, body=body
        )
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
    event: WebhookEvent | None = await _load(session, WebhookEvent, event_id)
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
            result = await provider.fetch(_external(payment))
            if result.outcome is Outcome.UNKNOWN:
                raise ProviderUnreachable(f"no status for payment {payment.id}")
            await apply_result(session, payment, result)
    else:
        by = Refund.provider_refund_id if event.provider == "stripe" else Refund.reference
        refund = await session.scalar(select(Refund).where(by == event.reference))
        if refund is None:
            logger.warning("callback_unknown_refund", event_id=event.event_id)
        else:
            result = await provider.fetch_refund(_refund_external(refund, event.provider))
            if result.outcome is Outcome.UNKNOWN:
                raise ProviderUnreachable(f"no status for refund {refund.id}")
            await apply_refund_result(session, refund, result)
    event.processed_at = utcnow()
    await session.flush()


# -- Refunds -------------------------------------------------------------------------------------


def _refund_external(refund: Refund, provider: str) -> str:
    if provider == "stripe":
        return refund.provider_refund_id or refund.reference
    return refund.reference


async def _start_refund(
    session: AsyncSession,
    payment: Payment,
    *,
    amount: int,
    full: bool,
    lines: Sequence[orders.RefundLineRequest] | list[dict[str, Any]],
    reason: str,
    cause: str | None = None,
    created_by: str | None = None,
    applies_to_order: bool = True,
) -> Refund:
    """Record a refund and queue the provider call; at most one per `cause`."""
    if cause is not None:
        existing = await session.scalar(select(Refund).where(Refund.cause == cause))
        if existing is not None:
            return existing
    refund = Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        reference=str(uuid.uuid4()),
        amount=amount,
        currency=payment.currency,
        full=full,
        lines=[
            line
            if isinstance(line, dict)
            else {"item_id": line.item_id, "quantity": line.quantity, "restock": line.restock}
            for line in lines
        ],
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
    if payment.unclaimed or payment.status not in {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
    }:
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
    refund = await _start_refund(
        session,
        payment,
        amount=plan.amount,
        full=plan.full,
        lines=plan.lines,
        reason="staff",
        created_by=principal.user_id,
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
    refund: Refund | None = await _load(session, Refund, refund_id)
    if refund is None or refund.status != RefundStatus.PENDING:
        return
    payment: Payment = await _load(session, Payment, refund.payment_id)
    provider: PaymentProvider = provider_for(settings, payment.provider)
    result = await provider.refund(
        RefundRequest(refund.reference, _external(payment), refund.amount, refund.currency)
    )
    if result.outcome is Outcome.UNKNOWN:
        result = await provider.fetch_refund(_refund_external(refund, payment.provider))
    if result.outcome in {Outcome.UNKNOWN, Outcome.NOT_FOUND}:
        raise ProviderUnreachable(f"no answer about refund {refund.id} yet")
    await apply_refund_result(session, refund, result)


async def apply_refund_result(
    session: AsyncSession, refund: Refund, result: ProviderResult
) -> None:
    if result.provider_transaction_id and not refund.provider_refund_id:
        refund.provider_refund_id = result.provider_transaction_id
        await session.flush()
    if result.outcome is Outcome.PENDING or result.outcome is Outcome.UNKNOWN:
        refund.attempts += 1
        refund.next_check_at = _next_check(refund.attempts)
        await session.flush()
        return
    target = RefundStatus.SUCCEEDED if result.outcome is Outcome.SUCCEEDED else RefundStatus.FAILED
    moved = await session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.status == RefundStatus.PENDING)
        .values(
            status=target.value,
            failure_code=result.failure_code if target is RefundStatus.FAILED else None,
            next_check_at=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(refund)
    if moved.rowcount != 1:  # type: ignore[attr-defined]
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
    payment: Payment = await _load(session, Payment, refund.payment_id)
    refunded = payment.refunded_amount + refund.amount
    to = PaymentStatus.REFUNDED if refunded >= payment.amount else PaymentStatus.PARTIALLY_REFUNDED
    await _move(session, payment, to, refunded_amount=refunded)
    logger.info("refund_succeeded", refund_id=refund.id, amount=refund.amount)


async def list_refunds(
    session: AsyncSession, principal: Principal, payment_id: str
) -> list[Refund]:
    payment = await get_payment(session, principal, payment_id)
    rows = await session.scalars(
        select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.created_at.desc())
    )
    return list(rows)


# -- What other packages ask of payments ---------------------------------------------------------


async def refund_cancelled_order(session: AsyncSession, order_id: str) -> int:
    """`order.cancelled`: refund in full every payment the order took; how many refunds."""
    payments = await session.scalars(
        select(Payment).where(
            Payment.order_id == order_id,
            Payment.unclaimed.is_(False),
            Payment.status.in_([PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED]),
        )
    )
    started = 0
    for payment in payments:
        cause = f"order.cancelled:{payment.id}"
        if await session.scalar(select(Refund.id).where(Refund.cause == cause)):
            continue
        try:
            plan = await orders.plan_refund(session, order_id, None)
        except orders.RefundExceedsPaid:
            continue  # nothing left: refunded already
        await _start_refund(
            session,
            payment,
            amount=plan.amount,
            full=True,
            lines=plan.lines,
            reason="order_cancelled",
            cause=cause,
        )
        started += 1
    return started


async def refund_short_line(
    session: AsyncSession, order_id: str, item_id: str, quantity: int, *, cause: str
) -> bool:
    """`order.line_short`: refund a line a shop could not serve (no restock: it was not there)."""
    payment = await session.scalar(
        select(Payment).where(
            Payment.order_id == order_id,
            Payment.unclaimed.is_(False),
            Payment.status.in_([PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED]),
        )
    )
    if payment is None:
        return False
    if await session.scalar(select(Refund.id).where(Refund.cause == cause)):
        return False
    line = orders.RefundLineRequest(item_id, quantity, restock=False)
    plan = await orders.plan_refund(session, order_id, [line])
    await _start_refund(
        session,
        payment,
        amount=plan.amount,
        full=False,
        lines=plan.lines,
        reason="line_short",
        cause=cause,
    )
    return True


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
