"""The customer's whole story over HTTP: quote → order → mobile money payment → signed callback
→ order paid → receipt by email and in-app; the same order unpaid would have expired."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.settings import Settings
from loumo.notifications.models import Notification
from tests.factories import auth_headers
from tests.payments.support import API, MTN_BROKE, MTN_OK, key, open_shop, run_jobs


async def test_quote_order_pay_and_receipt(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: AsyncSession,
    staff: dict[str, str],
    sandbox: Settings,
    customer: User,
) -> None:
    shop = await open_shop(client, staff, stock=10)
    me = await auth_headers(app, customer)
    address = await client.post(
        f"{API}/me/addresses",
        json={"label": "Home", "street": "Rue 1", "locality": "Bastos", "zone_id": shop.zone_id},
        headers=me,
    )
    assert address.status_code == 201, address.text
    basket = {
        "items": [{"variant_id": shop.variant_id, "shop_id": shop.shop_id, "quantity": 3}],
        "address_id": address.json()["id"],
        "payment_method": "mobile_money",
    }
    quote = await client.post(f"{API}/checkout/quote", json=basket, headers=me)
    assert quote.status_code == 200, quote.text
    total = quote.json()["total"]
    assert total == 3 * 2000 + 1000
    placed = await client.post(
        f"{API}/orders",
        json={**basket, "expected_total": total, "contact_phone": "+237670000000"},
        headers={**me, **key()},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    await run_jobs(db, sandbox)  # the order-received mail

    failed = await client.post(
        f"{API}/orders/{order_id}/payments",
        json={"method": "mobile_money", "phone": MTN_BROKE},
        headers={**me, **key()},
    )
    assert failed.status_code == 201, failed.text
    await run_jobs(db, sandbox)
    order = (await client.get(f"{API}/orders/{order_id}", headers=me)).json()
    assert (order["status"], order["payment_status"]) == ("pending_payment", "unpaid")

    paid = await client.post(
        f"{API}/orders/{order_id}/payments",
        json={"method": "mobile_money", "phone": MTN_OK},
        headers={**me, **key()},
    )
    assert paid.status_code == 201, paid.text
    await run_jobs(db, sandbox)
    order = (await client.get(f"{API}/orders/{order_id}", headers=me)).json()
    assert (order["status"], order["payment_status"]) == ("confirmed", "paid")
    payments = (await client.get(f"{API}/orders/{order_id}/payments", headers=me)).json()["items"]
    assert [p["status"] for p in payments] == ["succeeded", "failed"]

    titles = list(
        await db.scalars(select(Notification.title).where(Notification.user_id == customer.id))
    )
    reference = order["reference"]
    assert any(
        t in {f"Paiement reçu pour {reference}", f"Payment received for {reference}"}
        for t in titles
    ), titles
    receipts = [
        mail
        for mail in sandbox.mail_dir.glob("*.eml")
        if customer.email in mail.read_text(errors="ignore")
        and reference in mail.read_text(errors="ignore")
    ]
    assert len(receipts) >= 2  # the order received, then the payment received
