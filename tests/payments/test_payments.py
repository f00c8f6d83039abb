"""Paying orders by mobile money through the pawaPay sandbox, end to end over HTTP: the API under
test, the sandbox it calls and the signed callbacks it receives all run on a real server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.db import utcnow
from loumo.notifications.models import Notification
from loumo.orders.models import OrderEvent
from loumo.payments import reconciliation
from loumo.payments.models import Payment, WebhookEvent
from loumo.payments.providers.signatures import generate_private_key, sign_request
from loumo.payments.sandbox.keys import KEY_ID, sandbox_private_key
from loumo.payments.sandbox.models import SandboxCallback, SandboxDeposit
from loumo.shops.models import Stock
from tests.factories import auth_headers
from tests.payments.conftest import Checkout
from tests.payments.support import (
    API,
    MTN_BROKE,
    MTN_DROPPED,
    MTN_OK,
    MTN_TIMEOUT,
    MTN_TWICE,
    key,
    pay,
    place_order,
    reload_order,
    reload_payment,
    run_jobs,
)


async def count(db: AsyncSession, model: type, *where: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_mobile_money_pays_the_order_through_a_signed_callback(
    checkout: Checkout,
) -> None:
    client, db, sandbox, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    response = await pay(client, buyer_headers, order.id, phone="+237 6 70 00 00 00")
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["status"], payment["amount"], payment["currency"]) == ("pending", 5000, "XAF")
    assert (payment["phone"], payment["operator"]) == (MTN_OK, "MTN_MOMO_CMR")

    await run_jobs(db, sandbox)  # initiate → sandbox callback → webhook → status fetch → settle

    settled = await reload_payment(db, payment["id"])
    assert settled.status == "succeeded" and settled.settled_at is not None
    paid = await reload_order(db, order.id)
    assert (paid.status, paid.payment_status, paid.paid_payment_id) == (
        "confirmed",
        "paid",
        payment["id"],
    )
    stock = await db.scalar(
        select(Stock).where(Stock.shop_id == shop.shop_id).execution_options(populate_existing=True)
    )
    assert stock is not None and (stock.quantity, stock.reserved) == (48, 0)  # sold once
    assert await count(db, SandboxCallback, SandboxCallback.reference == settled.reference) == 1
    assert await count(db, WebhookEvent) == 1
    assert await count(db, Notification, Notification.user_id == customer.id) >= 1
    read = await client.get(f"{API}/payments/{payment['id']}", headers=buyer_headers)
    assert read.status_code == 200 and read.json()["status"] == "succeeded"
    listed = await client.get(f"{API}/orders/{order.id}/payments", headers=buyer_headers)
    assert [p["id"] for p in listed.json()["items"]] == [payment["id"]]


async def test_a_duplicated_callback_has_one_effect(
    checkout: Checkout,
) -> None:
    client, db, sandbox, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    payment = (await pay(client, buyer_headers, order.id, phone=MTN_TWICE)).json()
    await run_jobs(db, sandbox)
    reference = (await reload_payment(db, payment["id"])).reference
    assert await count(db, SandboxCallback, SandboxCallback.reference == reference) == 2
    assert await count(db, WebhookEvent) == 1
    assert (await reload_payment(db, payment["id"])).status == "succeeded"
    assert await count(db, OrderEvent, OrderEvent.kind == "payment") == 1


async def test_a_dropped_callback_is_settled_by_reconciliation(
    checkout: Checkout,
) -> None:
    client, db, sandbox, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    payment = (await pay(client, buyer_headers, order.id, phone=MTN_DROPPED)).json()
    await run_jobs(db, sandbox)
    waiting = await reload_payment(db, payment["id"])
    assert waiting.status == "processing" and waiting.next_check_at is not None
    assert (await reload_order(db, order.id)).payment_status == "unpaid"

    assert await reconciliation.reconcile(db, now=utcnow() + timedelta(minutes=5)) == 1
    await db.commit()
    await run_jobs(db, sandbox)
    assert (await reload_payment(db, payment["id"])).status == "succeeded"
    assert (await reload_order(db, order.id)).payment_status == "paid"
    assert await count(db, WebhookEvent) == 0


async def test_a_forged_or_tampered_callback_is_refused_and_changes_nothing(
    checkout: Checkout,
    live_url: str,
) -> None:
    client, db, sandbox, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    payment = (await pay(client, buyer_headers, order.id, phone=MTN_DROPPED)).json()
    await run_jobs(db, sandbox)
    reference = (await reload_payment(db, payment["id"])).reference
    body = f'{{"depositId":"{reference}","status":"COMPLETED","amount":"5000","currency":"XAF"}}'
    url = f"{live_url}{API}/webhooks/pawapay/deposits"

    forged = httpx.Request(
        "POST", url, content=body.encode(), headers={"Content-Type": "application/json"}
    )
    sign_request(forged, generate_private_key(), key_id=KEY_ID)
    unsigned = httpx.Request(
        "POST", url, content=body.encode(), headers={"Content-Type": "application/json"}
    )
    async with httpx.AsyncClient() as outside:
        assert (await outside.send(forged)).status_code == 400
        assert (await outside.send(unsigned)).status_code == 400
        genuine_then_tampered = httpx.Request(
            "POST", url, content=body.encode(), headers={"Content-Type": "application/json"}
        )
        sign_request(genuine_then_tampered, sandbox_private_key(sandbox), key_id=KEY_ID)
        tampered = httpx.Request(
            "POST",
            url,
            content=body.replace("5000", "9000").encode(),
            headers=dict(genuine_then_tampered.headers),
        )
        refused = await outside.send(tampered)
    assert refused.status_code == 400 and refused.json()["code"] == "callback_rejected"
    assert await count(db, WebhookEvent) == 0
    await run_jobs(db, sandbox)
    assert (await reload_payment(db, payment["id"])).status == "processing"
    assert (await reload_order(db, order.id)).payment_status == "unpaid"


async def test_a_timeout_at_initiation_is_resolved_by_a_status_fetch_never_two_charges(
    checkout: Checkout,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, db, sandbox, shop, customer, buyer_headers = checkout.parts()
    monkeypatch.setattr(sandbox, "pawapay_timeout", 0.3)  # the sandbox stalls this number 1.5 s
    order = await place_order(db, shop, customer)
    payment = (await pay(client, buyer_headers, order.id, phone=MTN_TIMEOUT)).json()
    await run_jobs(db, sandbox)
    settled = await reload_payment(db, payment["id"])
    assert settled.status == "succeeded"
    assert await count(db, SandboxDeposit) == 1
    assert (await reload_order(db, order.id)).payment_status == "paid"


async def test_insufficient_funds_leave_the_order_payable_and_a_good_number_pays_it(
    checkout: Checkout,
) -> None:
    client, db, sandbox, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    first = (await pay(client, buyer_headers, order.id, phone=MTN_BROKE)).json()
    await run_jobs(db, sandbox)
    failed = await reload_payment(db, first["id"])
    assert (failed.status, failed.failure_code) == ("failed", "INSUFFICIENT_BALANCE")
    still = await reload_order(db, order.id)
    assert (still.status, still.payment_status, still.payment_in_flight) == (
        "pending_payment",
        "unpaid",
        False,
    )
    second = await pay(client, buyer_headers, order.id, phone=MTN_OK)
    assert second.status_code == 201, second.text
    await run_jobs(db, sandbox)
    assert (await reload_payment(db, second.json()["id"])).status == "succeeded"
    assert (await reload_order(db, order.id)).paid_payment_id == second.json()["id"]


async def test_one_payment_at_a_time_and_idempotency(
    checkout: Checkout,
) -> None:
    client, db, _, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    same_key = {**buyer_headers, **key()}
    body = {"method": "mobile_money", "phone": MTN_OK}
    first = await client.post(f"{API}/orders/{order.id}/payments", json=body, headers=same_key)
    again = await client.post(f"{API}/orders/{order.id}/payments", json=body, headers=same_key)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = await pay(client, buyer_headers, order.id)
    assert other.status_code == 409 and other.json()["code"] == "payment_in_flight"
    keyless = await client.post(
        f"{API}/orders/{order.id}/payments", json=body, headers=buyer_headers
    )
    assert keyless.status_code == 400 and keyless.json()["code"] == "idempotency_key_required"
    assert await count(db, Payment) == 1


async def test_bad_phone_numbers_are_refused_before_anything_is_recorded(
    checkout: Checkout,
) -> None:
    client, db, _, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    refused = await pay(client, buyer_headers, order.id, phone="+33 6 12 34 56 78")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_phone"
    card = await client.post(
        f"{API}/orders/{order.id}/payments",
        json={"method": "card"},
        headers={**buyer_headers, **key()},
    )
    assert card.status_code == 400 and card.json()["code"] == "payment_method_unavailable"
    assert await count(db, Payment) == 0


async def test_nobody_pays_or_reads_someone_elses_order_or_payment(
    app: FastAPI, checkout: Checkout, other_customer: User
) -> None:
    client, db, _, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    payment = (await pay(client, buyer_headers, order.id)).json()
    intruder = await auth_headers(app, other_customer)
    assert (await pay(client, intruder, order.id)).status_code == 404
    assert (
        await client.get(f"{API}/payments/{payment['id']}", headers=intruder)
    ).status_code == 404
    listed = await client.get(f"{API}/orders/{order.id}/payments", headers=intruder)
    assert listed.status_code == 404
    assert (await client.get(f"{API}/payments/nope", headers=buyer_headers)).status_code == 404


async def test_an_order_cancelled_before_the_provider_is_asked_is_never_charged(
    checkout: Checkout,
) -> None:
    client, db, sandbox, shop, customer, buyer_headers = checkout.parts()
    order = await place_order(db, shop, customer)
    payment = (await pay(client, buyer_headers, order.id)).json()
    placed = await reload_order(db, order.id)
    placed.status = "cancelled"
    await db.commit()
    await run_jobs(db, sandbox)
    assert (await reload_payment(db, payment["id"])).status == "cancelled"
    assert await count(db, SandboxDeposit) == 0
    assert (await reload_order(db, order.id)).payment_in_flight is False
