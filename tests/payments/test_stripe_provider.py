"""The Stripe provider: PaymentIntents and refunds over the SDK (HTTP mocked with respx, as
Stripe cannot run here), and webhooks verified with the SDK from the webhook secret."""

from __future__ import annotations

import httpx
import pytest
import respx

from loumo.payments.providers.base import (
    CallbackRejected,
    CallbackRequest,
    DepositRequest,
    Outcome,
    RefundRequest,
)
from loumo.payments.providers.stripe import StripeProvider
from tests.payments.stripe_support import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    intent,
    refund,
    signed_event,
)

API = "https://api.stripe.com"


@pytest.fixture
def provider() -> StripeProvider:
    return StripeProvider(secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET)


@respx.mock
async def test_a_payment_intent_is_created_with_our_reference_as_idempotency_key(
    provider: StripeProvider,
) -> None:
    route = respx.post(f"{API}/v1/payment_intents").mock(
        return_value=httpx.Response(200, json=intent("pi_1", 4500, "requires_payment_method"))
    )
    result = await provider.initiate(DepositRequest("ref-1", 4500, "XAF", metadata={"o": "1"}))
    assert (result.outcome, result.provider_transaction_id) == (Outcome.PENDING, "pi_1")
    assert result.client_secret == "pi_1_secret_abc"
    sent = route.calls.last.request
    assert sent.headers["Idempotency-Key"] == "ref-1"
    assert b"amount=4500" in sent.content and b"currency=xaf" in sent.content


@respx.mock
async def test_lost_answers_are_unknown_and_status_comes_from_retrieval(
    provider: StripeProvider,
) -> None:
    respx.post(f"{API}/v1/payment_intents").mock(side_effect=httpx.ConnectError("down"))
    assert (await provider.initiate(DepositRequest("ref-2", 4500, "XAF"))).outcome is (
        Outcome.UNKNOWN
    )
    respx.get(f"{API}/v1/payment_intents/pi_2").mock(
        return_value=httpx.Response(200, json=intent("pi_2", 4500, "succeeded"))
    )
    status = await provider.fetch("pi_2")
    assert (status.outcome, status.amount, status.currency) == (Outcome.SUCCEEDED, 4500, "XAF")


@respx.mock
async def test_refunds(provider: StripeProvider) -> None:
    route = respx.post(f"{API}/v1/refunds").mock(
        return_value=httpx.Response(200, json=refund("re_1", "pi_2", 1000))
    )
    result = await provider.refund(RefundRequest("rf-1", "pi_2", 1000, "XAF"))
    assert (result.outcome, result.provider_transaction_id) == (Outcome.SUCCEEDED, "re_1")
    assert route.calls.last.request.headers["Idempotency-Key"] == "rf-1"


def test_webhooks_are_verified_with_the_secret(provider: StripeProvider) -> None:
    body, headers = signed_event("payment_intent.succeeded", intent("pi_3", 4500, "succeeded"))
    event = provider.parse_callback(CallbackRequest("stripe", "POST", "/", headers.items(), body))
    assert (event.kind, event.reference, event.status) == (
        "deposit",
        "pi_3",
        "payment_intent.succeeded",
    )
    forged_body, forged = signed_event(
        "payment_intent.succeeded", intent("pi_3", 4500, "succeeded"), secret="whsec_other"
    )
    for attempt_headers, attempt_body in (
        (forged, forged_body),
        (headers, body.replace(b"4500", b"9999")),
        ({}, body),
    ):
        with pytest.raises(CallbackRejected):
            provider.parse_callback(
                CallbackRequest("stripe", "POST", "/", attempt_headers.items(), attempt_body)
            )


@respx.mock
async def test_a_declined_card_fails_the_attempt(provider: StripeProvider) -> None:
    declined = intent("pi_4", 4500, "requires_payment_method")
    declined["last_payment_error"] = {"code": "card_declined", "message": "Your card was declined"}
    respx.get(f"{API}/v1/payment_intents/pi_4").mock(
        return_value=httpx.Response(200, json=declined)
    )
    status = await provider.fetch("pi_4")
    assert (status.outcome, status.failure_code) == (Outcome.FAILED, "card_declined")
