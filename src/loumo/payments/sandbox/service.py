"""The emulated pawaPay: what each endpoint does to the sandbox's tables.

Unlike Loumo's own services these functions open and commit their own sessions: the sandbox
stands for another company's system, and the "timeout" test number must have its deposit
committed before the answer stalls.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loumo.core.db import utcnow
from loumo.core.settings import Settings
from loumo.jobs.outbox import defer
from loumo.payments.money import from_decimal_string
from loumo.payments.providers.signatures import sign_request
from loumo.payments.sandbox.keys import KEY_ID, sandbox_private_key
from loumo.payments.sandbox.models import SandboxCallback, SandboxDeposit, SandboxRefund
from loumo.payments.sandbox.scenarios import (
    COUNTRY,
    CURRENCY,
    FAILURES,
    Scenario,
    predict,
    scenario_of,
)

logger = structlog.get_logger("loumo.payments.sandbox")
Sessions = async_sessionmaker[AsyncSession]
CALLBACK_JOB = "pawapay_sandbox.callback"
CALLBACK_PATHS = {
    "deposit": "/api/v1/webhooks/pawapay/deposits",
    "refund": "/api/v1/webhooks/pawapay/refunds",
}
MIN_AMOUNT, MAX_AMOUNT = "100", "1000000"


class SandboxServerError(Exception):
    """The "5xx" test number: answer 500, store nothing."""


def _failure(code: str, message: str) -> dict[str, Any]:
    return {"failureCode": code, "failureMessage": message}


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_uuid4(value: object) -> bool:
    try:
        return isinstance(value, str) and uuid.UUID(value).version == 4
    except ValueError:
        return False


def _amount_error(amount: object, currency: object) -> dict[str, Any] | None:
    if currency != CURRENCY:
        return _failure("INVALID_CURRENCY", f"{COUNTRY} takes {CURRENCY}")
    value = from_decimal_string(amount, CURRENCY) if isinstance(amount, str) else None
    if value is None or value <= 0:
        return _failure("INVALID_AMOUNT", "The amount is not a valid XAF amount")
    if not int(MIN_AMOUNT) <= value <= int(MAX_AMOUNT):
        return _failure("AMOUNT_OUT_OF_BOUNDS", f"Between {MIN_AMOUNT} and {MAX_AMOUNT} XAF")
    return None


# -- Deposits --------------------------------------------------------------------------------


async def create_deposit(
    sessions: Sessions, settings: Settings, body: dict[str, Any]
) -> dict[str, Any]:
    deposit_id = body.get("depositId")
    if not _is_uuid4(deposit_id):
        return {"status": "REJECTED", "failureReason": _failure("INVALID_INPUT", "depositId")}
    assert isinstance(deposit_id, str)
    async with sessions() as session:
        existing = await session.get(SandboxDeposit, deposit_id)
        if existing is not None:
            return {"depositId": deposit_id, "status": "DUPLICATE_IGNORED"}
    payer = _object(body.get("payer"))
    details = _object(payer.get("accountDetails"))
    number = predict(str(details.get("phoneNumber") or ""))
    rejection = _amount_error(body.get("amount"), body.get("currency"))
    if payer.get("type") != "MMO" or number is None or number.phone != details.get("phoneNumber"):
        rejection = _failure("INVALID_PHONE_NUMBER", "Not a valid phone number for the provider")
    elif details.get("provider") != number.operator:
        rejection = _failure("INVALID_PROVIDER", "The number does not belong to that provider")
    if rejection is not None:
        return {"depositId": deposit_id, "status": "REJECTED", "failureReason": rejection}
    assert number is not None
    scenario = scenario_of(number.phone)
    if scenario is Scenario.SERVER_ERROR:
        raise SandboxServerError(deposit_id)
    delay = settings.pawapay_sandbox_callback_delay
    if scenario is Scenario.SLOW:
        delay = settings.pawapay_sandbox_slow_seconds
    complete_at = utcnow() + timedelta(seconds=delay)
    async with sessions() as session:
        session.add(
            SandboxDeposit(
                deposit_id=deposit_id,
                amount=str(body["amount"]),
                currency=CURRENCY,
                phone=number.phone,
                operator=number.operator,
                scenario=scenario.value,
                status="ACCEPTED",
                complete_at=complete_at,
            )
        )
        copies = {Scenario.CALLBACK_DROPPED: 0, Scenario.CALLBACK_DUPLICATED: 2}.get(scenario, 1)
        for _ in range(copies):
            await defer(
                session, CALLBACK_JOB, {"kind": "deposit", "id": deposit_id}, run_at=complete_at
            )
        await session.commit()
    logger.info("sandbox_deposit", deposit_id=deposit_id, scenario=scenario.value)
    if scenario is Scenario.TIMEOUT:
        await asyncio.sleep(settings.pawapay_sandbox_hang_seconds)
    return {"depositId": deposit_id, "status": "ACCEPTED", "created": complete_at.isoformat()}


async def _settle_due(sessions: Sessions, now: datetime) -> None:
    """Move every due deposit and refund to its final status (conditional updates: once)."""
    async with sessions() as session:
        due = (
            await session.scalars(
                select(SandboxDeposit).where(
                    SandboxDeposit.status == "ACCEPTED", SandboxDeposit.complete_at <= now
                )
            )
        ).all()
        for deposit in due:
            failure = FAILURES.get(Scenario(deposit.scenario))
            await session.execute(
                update(SandboxDeposit)
                .where(
                    SandboxDeposit.deposit_id == deposit.deposit_id,
                    SandboxDeposit.status == "ACCEPTED",
                )
                .values(
                    status="FAILED" if failure else "COMPLETED",
                    failure_code=failure[0] if failure else None,
                    provider_transaction_id=None if failure else uuid.uuid4().hex[:20].upper(),
                )
            )
        await session.execute(
            update(SandboxRefund)
            .where(SandboxRefund.status == "ACCEPTED", SandboxRefund.complete_at <= now)
            .values(status="COMPLETED")
        )
        await session.commit()


def _deposit_data(deposit: SandboxDeposit) -> dict[str, Any]:
    status = "PROCESSING" if deposit.status == "ACCEPTED" else deposit.status
    data: dict[str, Any] = {
        "depositId": deposit.deposit_id,
        "status": status,
        "amount": deposit.amount,
        "currency": deposit.currency,
        "country": COUNTRY,
        "payer": {
            "type": "MMO",
            "accountDetails": {"phoneNumber": deposit.phone, "provider": deposit.operator},
        },
        "created": deposit.created_at.isoformat(),
    }
    if deposit.provider_transaction_id:
        data["providerTransactionId"] = deposit.provider_transaction_id
    if deposit.failure_code:
        message = FAILURES.get(Scenario(deposit.scenario), ("", "failed"))[1]
        data["failureReason"] = _failure(deposit.failure_code, message)
    return data


async def get_deposit(sessions: Sessions, deposit_id: str) -> dict[str, Any]:
    return await _status(sessions, SandboxDeposit, deposit_id, _deposit_data)


async def _status(
    sessions: Sessions, model: Any, row_id: str, data: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """pawaPay's answer to a status check: FOUND with the data, or NOT_FOUND."""
    await _settle_due(sessions, utcnow())
    async with sessions() as session:
        row = await session.get(model, row_id)
        if row is None:
            return {"status": "NOT_FOUND"}
        return {"status": "FOUND", "data": data(row)}


# -- Refunds ---------------------------------------------------------------------------------


async def create_refund(
    sessions: Sessions, settings: Settings, body: dict[str, Any]
) -> dict[str, Any]:
    refund_id, deposit_id = body.get("refundId"), body.get("depositId")
    if not _is_uuid4(refund_id) or not isinstance(deposit_id, str):
        return {"status": "REJECTED", "failureReason": _failure("INVALID_INPUT", "refundId")}
    assert isinstance(refund_id, str)
    await _settle_due(sessions, utcnow())
    async with sessions() as session:
        if await session.get(SandboxRefund, refund_id) is not None:
            return {"refundId": refund_id, "status": "DUPLICATE_IGNORED"}
        deposit = await session.get(SandboxDeposit, deposit_id)
        rejection = _amount_error(body.get("amount"), body.get("currency"))
        if deposit is None or deposit.status != "COMPLETED":
            rejection = _failure("DEPOSIT_NOT_COMPLETED", "No completed deposit with that id")
        if rejection is None:
            assert deposit is not None
            taken = await session.scalars(
                select(SandboxRefund.amount).where(
                    SandboxRefund.deposit_id == deposit_id, SandboxRefund.status != "FAILED"
                )
            )
            refunded = sum(from_decimal_string(a, CURRENCY) or 0 for a in taken)
            asked = from_decimal_string(str(body["amount"]), CURRENCY) or 0
            if refunded + asked > (from_decimal_string(deposit.amount, CURRENCY) or 0):
                rejection = _failure("AMOUNT_OUT_OF_BOUNDS", "More than what is left to refund")
        if rejection is not None:
            return {"refundId": refund_id, "status": "REJECTED", "failureReason": rejection}
        complete_at = utcnow() + timedelta(seconds=settings.pawapay_sandbox_callback_delay)
        session.add(
            SandboxRefund(
                refund_id=refund_id,
                deposit_id=deposit_id,
                amount=str(body["amount"]),
                currency=CURRENCY,
                status="ACCEPTED",
                complete_at=complete_at,
            )
        )
        await defer(session, CALLBACK_JOB, {"kind": "refund", "id": refund_id}, run_at=complete_at)
        await session.commit()
    return {"refundId": refund_id, "status": "ACCEPTED", "created": complete_at.isoformat()}


def _refund_data(refund: SandboxRefund) -> dict[str, Any]:
    return {
        "refundId": refund.refund_id,
        "depositId": refund.deposit_id,
        "status": "PROCESSING" if refund.status == "ACCEPTED" else refund.status,
        "amount": refund.amount,
        "currency": refund.currency,
        "country": COUNTRY,
        "created": refund.created_at.isoformat(),
    }


async def get_refund(sessions: Sessions, refund_id: str) -> dict[str, Any]:
    return await _status(sessions, SandboxRefund, refund_id, _refund_data)


# -- Toolkit ---------------------------------------------------------------------------------


def predict_provider(body: dict[str, Any]) -> dict[str, Any] | None:
    number = predict(str(body.get("phoneNumber") or ""))
    if number is None:
        return None
    return {"country": COUNTRY, "provider": number.operator, "phoneNumber": number.phone}


def active_conf() -> dict[str, Any]:
    def operations() -> list[dict[str, Any]]:
        return [
            {
                "operationType": operation,
                "minTransactionLimit": MIN_AMOUNT,
                "maxTransactionLimit": MAX_AMOUNT,
                "decimalsInAmount": "NONE",
                "status": "OPERATIONAL",
            }
            for operation in ("DEPOSIT", "REFUND")
        ]

    return {
        "companyName": "Loumo (sandbox)",
        "signatureConfiguration": {"signedRequestsOnly": False, "signedCallbacks": True},
        "countries": [
            {
                "country": COUNTRY,
                "prefix": "237",
                "displayName": {"en": "Cameroon", "fr": "Cameroun"},
                "providers": [
                    {
                        "provider": operator,
                        "displayName": name,
                        "currencies": [{"currency": CURRENCY, "operationTypes": operations()}],
                    }
                    for operator, name in (("MTN_MOMO_CMR", "MTN"), ("ORANGE_CMR", "Orange"))
                ],
            }
        ],
    }


# -- Callbacks -------------------------------------------------------------------------------


async def deliver_callback(
    session: AsyncSession, sessions: Sessions, settings: Settings, kind: str, reference: str
) -> int:
    """POST the signed callback of a deposit or refund to Loumo's webhook; its status code.

    Raises when there is nothing final to say yet or the webhook did not take it: the job
    retries, as pawaPay retries callbacks.
    """
    await _settle_due(sessions, utcnow())
    if kind == "deposit":
        deposit = await session.get(SandboxDeposit, reference)
        if deposit is None or deposit.status == "ACCEPTED":
            raise RuntimeError(f"deposit {reference} is not final yet")
        body = _deposit_data(deposit)
    else:
        refund = await session.get(SandboxRefund, reference)
        if refund is None or refund.status == "ACCEPTED":
            raise RuntimeError(f"refund {reference} is not final yet")
        body = _refund_data(refund)
    url = settings.public_base_url.rstrip("/") + CALLBACK_PATHS[kind]
    request = httpx.Request(
        "POST", url, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
    )
    sign_request(request, sandbox_private_key(settings), key_id=KEY_ID)
    async with httpx.AsyncClient(timeout=settings.pawapay_timeout) as client:
        response = await client.send(request)
    session.add(
        SandboxCallback(kind=kind, reference=reference, url=url, status_code=response.status_code)
    )
    if response.status_code >= 300:
        # pawaPay retries callbacks that are not acknowledged; so does the sandbox (job retry).
        raise RuntimeError(f"callback to {url} answered {response.status_code}")
    return response.status_code
