"""Card payments through Stripe: the service over HTTP, Stripe's API mocked with respx (it cannot
run here), its webhooks signed with the webhook secret and confirmed by retrieving the intent."""

from __future__ import annotations

import httpx
import pytest
import respx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.settings import Settings
from tests.factories import auth_headers
from tests.payments.stripe_support import SECRET_KEY, WEBHOOK_SECRET, intent, signed_event
from tests.payments.support import (
    API,
    key,
    open_shop,
    place_order,
    reload_order,
    reload_payment,
    run_jobs,
)

STRIPE = "https://api.stripe.com"


@pytest.fixture
def stripe_on(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(settings, "payment_providers", "sandbox,cash,stripe")
    monkeypatch.setattr(settings, "stripe_secret_key", SecretStr(SECRET_KEY))
    monkeypatch.setattr(settings, "stripe_webhook_secret", SecretStr(WEBHOOK_SECRET))
    return settings


async def test_a_card_payment_settles_from_a_verified_webhook(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: AsyncSession,
    staff: dict[str, str],
    stripe_on: Settings,
    customer: User,
) -> None:
    shop = await open_shop(client, staff)
    order = await place_order(db, shop, customer, method="card")
    headers = await auth_headers(app, customer)
    with respx.mock(base_url=STRIPE, assert_all_called=False) as stripe:
        stripe.post("/v1/payment_intents").mock(
            return_value=httpx.Response(
                200, json=intent("pi_card1", 5000, "requires_payment_method")
            )
        )
        stripe.get("/v1/payment_intents/pi_card1").mock(
            return_value=httpx.Response(200, json=intent("pi_card1", 5000, "succeeded"))
        )
        created = await client.post(
            f"{API}/orders/{order.id}/payments",
            json={"method": "card"},
            headers={**headers, **key()},
        )
        assert created.status_code == 201, created.text
        await run_jobs(db, stripe_on)
        read = await client.get(f"{API}/payments/{created.json()['id']}", headers=headers)
        assert (read.json()["status"], read.json()["client_secret"]) == (
            "processing",
            "pi_card1_secret_abc",
        )

        body, signed = signed_event(
            "payment_intent.succeeded", intent("pi_card1", 5000, "succeeded")
        )
        forged_body, forged = signed_event(
            "payment_intent.succeeded", intent("pi_card1", 5000, "succeeded"), secret="whsec_x"
        )
        assert (
            await client.post(f"{API}/webhooks/stripe", content=forged_body, headers=forged)
        ).status_code == 400
        received = await client.post(f"{API}/webhooks/stripe", content=body, headers=signed)
        assert received.status_code == 200 and received.json()["duplicate"] is False
        again = await client.post(f"{API}/webhooks/stripe", content=body, headers=signed)
        assert again.json()["duplicate"] is True
        await run_jobs(db, stripe_on)

    assert (await reload_payment(db, created.json()["id"])).status == "succeeded"
    assert (await reload_order(db, order.id)).payment_status == "paid"
