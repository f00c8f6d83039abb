"""The real pawaPay adapter against the sandbox, over TCP: every path of the v2 API it uses."""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.settings import Settings
from loumo.main import create_app
from loumo.payments.providers.base import (
    CallbackRejected,
    CallbackRequest,
    DepositRequest,
    Outcome,
    ProviderError,
    RefundRequest,
)
from loumo.payments.providers.pawapay import PawaPayProvider
from loumo.payments.providers.signatures import generate_private_key, sign_request
from loumo.payments.sandbox.keys import KEY_ID, sandbox_private_key
from loumo.payments.sandbox.models import SandboxDeposit
from tests.conftest import make_settings

MTN_OK, MTN_BROKE, MTN_TIMEOUT, MTN_500, MTN_SLOW = (
    "237670000000",
    "237670000001",
    "237670000003",
    "237670000004",
    "237670000007",
)


def deposit(phone: str, amount: int = 4500, operator: str = "MTN_MOMO_CMR") -> DepositRequest:
    return DepositRequest(str(uuid.uuid4()), amount, "XAF", phone=phone, operator=operator)


async def deposits_with_id(db: AsyncSession, deposit_id: str) -> int:
    query = select(func.count()).where(SandboxDeposit.deposit_id == deposit_id)
    return int(await db.scalar(query) or 0)


async def test_predict_normalises_the_number_and_names_the_operator(
    pawapay: PawaPayProvider,
) -> None:
    mtn = await pawapay.predict("+237 6 70-00-00-00")
    assert (mtn.country, mtn.operator, mtn.phone) == ("CMR", "MTN_MOMO_CMR", MTN_OK)
    orange = await pawapay.predict("690000000")
    assert (orange.operator, orange.phone) == ("ORANGE_CMR", "237690000000")
    with pytest.raises(ProviderError) as refused:
        await pawapay.predict("+33 6 12 34 56 78")
    assert refused.value.code == "INVALID_PHONE_NUMBER"


async def test_active_conf_limits_and_operators(pawapay: PawaPayProvider) -> None:
    await pawapay.check_available("CMR", "MTN_MOMO_CMR", 4500, "XAF")
    with pytest.raises(ProviderError) as low:
        await pawapay.check_available("CMR", "MTN_MOMO_CMR", 50, "XAF")
    assert low.value.code == "AMOUNT_OUT_OF_BOUNDS"
    with pytest.raises(ProviderError) as unknown:
        await pawapay.check_available("CMR", "AIRTEL_CMR", 4500, "XAF")
    assert unknown.value.code == "PROVIDER_NOT_CONFIGURED"


async def test_a_deposit_is_accepted_then_completes_and_a_repeat_is_not_a_second_charge(
    pawapay: PawaPayProvider, db: AsyncSession
) -> None:
    request = deposit(MTN_OK)
    first = await pawapay.initiate(request)
    assert first.outcome is Outcome.PENDING
    status = await pawapay.fetch(request.reference)
    assert (status.outcome, status.amount, status.currency) == (Outcome.SUCCEEDED, 4500, "XAF")
    assert status.provider_transaction_id
    again = await pawapay.initiate(request)  # DUPLICATE_IGNORED, answered with its status
    assert again.outcome is Outcome.SUCCEEDED
    assert await deposits_with_id(db, request.reference) == 1


async def test_insufficient_funds_fail_with_pawapays_code(pawapay: PawaPayProvider) -> None:
    request = deposit(MTN_BROKE)
    assert (await pawapay.initiate(request)).outcome is Outcome.PENDING
    status = await pawapay.fetch(request.reference)
    assert (status.outcome, status.failure_code) == (Outcome.FAILED, "INSUFFICIENT_BALANCE")


async def test_a_slow_deposit_stays_pending(pawapay: PawaPayProvider) -> None:
    request = deposit(MTN_SLOW)
    assert (await pawapay.initiate(request)).outcome is Outcome.PENDING
    assert (await pawapay.fetch(request.reference)).outcome is Outcome.PENDING


async def test_rejections_at_initiation(pawapay: PawaPayProvider) -> None:
    wrong_operator = await pawapay.initiate(deposit(MTN_OK, operator="ORANGE_CMR"))
    assert (wrong_operator.outcome, wrong_operator.failure_code) == (
        Outcome.FAILED,
        "INVALID_PROVIDER",
    )
    too_much = await pawapay.initiate(deposit(MTN_OK, amount=5_000_000))
    assert (too_much.outcome, too_much.failure_code) == (Outcome.FAILED, "AMOUNT_OUT_OF_BOUNDS")


async def test_a_server_error_is_unknown_and_the_status_says_it_never_arrived(
    pawapay: PawaPayProvider,
) -> None:
    request = deposit(MTN_500)
    assert (await pawapay.initiate(request)).outcome is Outcome.UNKNOWN
    assert (await pawapay.fetch(request.reference)).outcome is Outcome.NOT_FOUND


async def test_a_timeout_is_unknown_and_the_status_fetch_finds_the_one_deposit(
    sandbox: Settings, db: AsyncSession
) -> None:
    impatient = PawaPayProvider.from_settings(sandbox)
    impatient.timeout = 0.3  # the sandbox holds this number's answer for 1.5 s
    request = deposit(MTN_TIMEOUT)
    assert (await impatient.initiate(request)).outcome is Outcome.UNKNOWN
    status = await PawaPayProvider.from_settings(sandbox).fetch(request.reference)
    assert status.outcome is Outcome.SUCCEEDED
    assert await deposits_with_id(db, request.reference) == 1


async def test_refunds_up_to_what_was_paid(pawapay: PawaPayProvider) -> None:
    paid = deposit(MTN_OK, amount=10_000)
    await pawapay.initiate(paid)
    assert (await pawapay.fetch(paid.reference)).outcome is Outcome.SUCCEEDED
    part = RefundRequest(str(uuid.uuid4()), paid.reference, 4000, "XAF")
    assert (await pawapay.refund(part)).outcome is Outcome.PENDING
    assert (await pawapay.fetch_refund(part.reference)).outcome is Outcome.SUCCEEDED
    assert (await pawapay.refund(part)).outcome is Outcome.SUCCEEDED  # duplicate: its status
    too_much = await pawapay.refund(RefundRequest(str(uuid.uuid4()), paid.reference, 7000, "XAF"))
    assert (too_much.outcome, too_much.failure_code) == (Outcome.FAILED, "AMOUNT_OUT_OF_BOUNDS")
    unknown = await pawapay.fetch_refund(str(uuid.uuid4()))
    assert unknown.outcome is Outcome.NOT_FOUND


async def test_the_sandbox_wants_a_bearer_token(live_url: str) -> None:
    """Every sandbox endpoint answers pawaPay's 401 before doing anything without a token."""
    deposit_id = "d0c5b1e2-8a5e-4b8f-9d62-0c1f6f1a2b3c"
    calls = [
        ("GET", "/v2/active-conf"),
        ("POST", "/v2/deposits"),
        ("GET", f"/v2/deposits/{deposit_id}"),
        ("POST", "/v2/refunds"),
        ("GET", f"/v2/refunds/{deposit_id}"),
        ("POST", "/v2/predict-provider"),
    ]
    async with httpx.AsyncClient(base_url=f"{live_url}/_sandbox/pawapay") as client:
        for method, path in calls:
            body = {"depositId": deposit_id} if method == "POST" else None
            response = await client.request(method, path, json=body)
            assert response.status_code == 401, (method, path)
            reason = response.json()["failureReason"]
            assert reason["failureCode"] == "AUTHENTICATION_ERROR", (method, path)
        bearer = {"Authorization": "Bearer any"}
        unknown = await client.get(f"/v2/deposits/{deposit_id}", headers=bearer)
    assert unknown.json() == {"status": "NOT_FOUND"}, unknown.text  # the POST made none


def signed_callback(
    settings: Settings, body: bytes, *, key: object = None
) -> tuple[str, list[tuple[str, str]], bytes]:
    url = "http://testserver/api/v1/webhooks/pawapay/deposits"
    request = httpx.Request("POST", url, content=body, headers={"Content-Type": "application/json"})
    sign_request(request, key or sandbox_private_key(settings), key_id=KEY_ID)  # type: ignore[arg-type]
    return url, list(request.headers.items()), body


async def test_callbacks_are_verified_against_the_sandbox_key(
    pawapay: PawaPayProvider, sandbox: Settings
) -> None:
    body = b'{"depositId":"d0c5b1e2-8a5e-4b8f-9d62-0c1f6f1a2b3c","status":"COMPLETED"}'
    url, headers, raw = signed_callback(sandbox, body)
    event = pawapay.parse_callback(CallbackRequest("deposit", "POST", url, headers, raw))
    assert (event.reference, event.status) == ("d0c5b1e2-8a5e-4b8f-9d62-0c1f6f1a2b3c", "COMPLETED")
    assert event.event_id == "deposit:d0c5b1e2-8a5e-4b8f-9d62-0c1f6f1a2b3c:COMPLETED"

    tampered = raw.replace(b"COMPLETED", b"FAILED\x20\x20\x20")
    forged = signed_callback(sandbox, body, key=generate_private_key())
    unsigned = [(k, v) for k, v in headers if k.lower() not in {"signature", "signature-input"}]
    for attempt_headers, attempt_body in (
        (headers, tampered),
        (forged[1], body),
        (unsigned, body),
    ):
        with pytest.raises(CallbackRejected):
            pawapay.parse_callback(
                CallbackRequest("deposit", "POST", url, attempt_headers, attempt_body)
            )


def test_the_sandbox_is_not_mounted_in_production(tmp_path: object, database_url: str) -> None:
    settings = make_settings(
        database_url,
        tmp_path,  # type: ignore[arg-type]
        environment="production",
        secret_key=secrets.token_urlsafe(48),  # production refuses "p" * 48
        pawapay_base_url="https://api.pawapay.io",
    )
    assert not any(path.startswith("/_sandbox") for path in route_paths(create_app(settings)))
    development = create_app(make_settings(database_url, tmp_path))  # type: ignore[arg-type]
    assert "/_sandbox/pawapay/v2/deposits" in route_paths(development)


def route_paths(app: FastAPI) -> set[str]:
    return {context.path or "" for context in iter_route_contexts(app.routes)}
