"""Refunds: by staff (whole or lines, restock chosen per line), for a cancelled order, for a short
line, and automatically for money an order could not take; cash payments recorded at delivery."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.audit.models import AuditEntry
from loumo.jobs.outbox import defer
from loumo.orders.models import OrderItem
from loumo.payments import settlement
from loumo.payments.models import Payment, Refund
from loumo.payments.providers.base import DepositRequest
from loumo.payments.providers.pawapay import PawaPayProvider
from loumo.payments.sandbox.models import SandboxRefund
from loumo.shops.models import Stock
from tests.conftest import AuthHeaders
from tests.payments.conftest import Checkout
from tests.payments.support import (
    API,
    MTN_OK,
    Shop,
    key,
    pay,
    place_order,
    reload_order,
    reload_payment,
    run_jobs,
)


@pytest.fixture
async def refunder(auth_headers: AuthHeaders) -> dict[str, str]:
    return await auth_headers("refunder00000000000000000000001", permissions=["payments:refund"])


async def paid_order(checkout: Checkout) -> tuple[str, str]:
    client, db, settings, shop, buyer, headers = checkout.parts()
    order = await place_order(db, shop, buyer, quantity=2)
    response = await pay(client, headers, order.id)
    assert response.status_code == 201, response.text
    await run_jobs(db, settings)
    assert (await reload_payment(db, response.json()["id"])).status == "succeeded"
    return order.id, response.json()["id"]


async def stock_of(db: AsyncSession, shop: Shop) -> tuple[int, int]:
    stock = await db.scalar(
        select(Stock).where(Stock.shop_id == shop.shop_id).execution_options(populate_existing=True)
    )
    assert stock is not None
    return stock.quantity, stock.reserved


async def test_staff_refund_a_line_with_restock_then_the_rest(
    checkout: Checkout,
    refunder: dict[str, str],
    auth_headers: AuthHeaders,
) -> None:
    client, db, sandbox, shop, _, _ = checkout.parts()
    order_id, payment_id = await paid_order(checkout)
    item = await db.scalar(select(OrderItem).where(OrderItem.order_id == order_id))
    assert item is not None
    lines = {"lines": [{"item_id": item.id, "quantity": 1, "restock": True}], "note": "bruised"}
    headers = {**refunder, **key()}
    response = await client.post(
        f"{API}/payments/{payment_id}/refunds", json=lines, headers=headers
    )
    assert response.status_code == 201, response.text
    assert (response.json()["amount"], response.json()["full"]) == (2000, False)
    replay = await client.post(f"{API}/payments/{payment_id}/refunds", json=lines, headers=headers)
    assert replay.json()["id"] == response.json()["id"]
    await run_jobs(db, sandbox)  # refund → sandbox → signed refund callback → status fetch

    payment = await reload_payment(db, payment_id)
    assert (payment.status, payment.refunded_amount) == ("partially_refunded", 2000)
    order = await reload_order(db, order_id)
    assert (order.payment_status, order.refunded) == ("partially_refunded", 2000)
    assert await stock_of(db, shop) == (49, 0)  # one unit back on the shelf
    audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "payment.refund"))
    assert audit is not None and audit.entity_id == payment_id

    rest = await client.post(
        f"{API}/payments/{payment_id}/refunds", json={}, headers={**refunder, **key()}
    )
    assert rest.status_code == 201 and (rest.json()["amount"], rest.json()["full"]) == (3000, True)
    await run_jobs(db, sandbox)
    assert (await reload_payment(db, payment_id)).status == "refunded"
    assert (await reload_order(db, order_id)).payment_status == "refunded"
    nothing_left = await client.post(
        f"{API}/payments/{payment_id}/refunds", json={}, headers={**refunder, **key()}
    )
    assert nothing_left.status_code == 409
    assert int(await db.scalar(select(func.count()).select_from(SandboxRefund)) or 0) == 2
    reader = await auth_headers("reader0000000000000000000000001", permissions=["payments:read"])
    listed = await client.get(f"{API}/payments/{payment_id}/refunds", headers=reader)
    assert listed.status_code == 200 and listed.json()["next_cursor"] is None
    assert [r["amount"] for r in listed.json()["items"]] == [3000, 2000]  # newest first


async def test_refunds_are_for_staff_only(
    checkout: Checkout,
) -> None:
    client, db, _, _, _, _ = checkout.parts()
    _, payment_id = await paid_order(checkout)
    mine = checkout.headers
    refused = await client.post(
        f"{API}/payments/{payment_id}/refunds", json={}, headers={**mine, **key()}
    )
    assert refused.status_code == 403
    assert int(await db.scalar(select(func.count()).select_from(Refund)) or 0) == 0


async def test_a_cancelled_paid_order_is_refunded_once(
    checkout: Checkout,
) -> None:
    _, db, sandbox, _, _, _ = checkout.parts()
    order_id, payment_id = await paid_order(checkout)
    await defer(db, "order.cancelled", {"order_id": order_id})
    await defer(db, "order.cancelled", {"order_id": order_id})  # delivered twice
    await db.commit()
    await run_jobs(db, sandbox)
    refunds = list(await db.scalars(select(Refund).where(Refund.payment_id == payment_id)))
    assert [(r.reason, r.amount, r.status) for r in refunds] == [
        ("order_cancelled", 5000, "succeeded")
    ]
    assert (await reload_payment(db, payment_id)).status == "refunded"


async def test_a_short_line_of_a_paid_order_is_refunded(
    checkout: Checkout,
) -> None:
    _, db, sandbox, _, _, _ = checkout.parts()
    order_id, payment_id = await paid_order(checkout)
    item = await db.scalar(select(OrderItem).where(OrderItem.order_id == order_id))
    assert item is not None
    await defer(db, "order.line_short", {"order_id": order_id, "item_id": item.id, "quantity": 1})
    await db.commit()
    await run_jobs(db, sandbox)
    payment = await reload_payment(db, payment_id)
    assert (payment.status, payment.refunded_amount) == ("partially_refunded", 2000)


async def test_money_for_an_order_already_paid_goes_back_automatically(
    checkout: Checkout,
) -> None:
    _, db, sandbox, _, customer, _ = checkout.parts()
    order_id, first_id = await paid_order(checkout)
    # A second attempt whose money came in anyway (e.g. started before the first settled).
    late = Payment(
        order_id=order_id,
        user_id=customer.id,
        method="mobile_money",
        provider="pawapay",
        reference=str(uuid.uuid4()),
        amount=5000,
        currency="XAF",
        phone=MTN_OK,
        operator="MTN_MOMO_CMR",
        status="processing",
    )
    db.add(late)
    await db.commit()
    await PawaPayProvider.from_settings(sandbox).initiate(
        DepositRequest(late.reference, 5000, "XAF", phone=MTN_OK, operator="MTN_MOMO_CMR")
    )
    await settlement.check(db, late.id, sandbox)
    await db.commit()
    await run_jobs(db, sandbox)
    late_now = await reload_payment(db, late.id)
    assert late_now.unclaimed and late_now.status == "refunded"
    refund = await db.scalar(select(Refund).where(Refund.payment_id == late.id))
    assert refund is not None and (refund.reason, refund.status) == ("unclaimed", "succeeded")
    order = await reload_order(db, order_id)
    assert (order.paid_payment_id, order.payment_status, order.refunded) == (first_id, "paid", 0)


async def test_cash_is_recorded_at_delivery_once(
    db: AsyncSession, shop: Shop, customer: User, delivery_agent: User
) -> None:
    order = await place_order(db, shop, customer, method="cash")
    first = await settlement.record_cash_payment(db, order.id, 5000, delivery_agent.id)
    again = await settlement.record_cash_payment(db, order.id, 5000, delivery_agent.id)
    await db.commit()
    assert first.id == again.id and first.status == "succeeded"
    assert first.collected_by == delivery_agent.id
    assert (await reload_order(db, order.id)).payment_status == "paid"
