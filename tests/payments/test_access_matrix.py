"""Every payments route, as every kind of caller (the callers of the accounts matrix), with the
expected status: not yours is 404, never 403; refunds are for `payments:refund` holders."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.payments.models import Payment
from tests.accounts.test_access_matrix import CALLERS, ROLE_OF, Case, _fill, everyone
from tests.factories import auth_headers, create_user
from tests.payments.support import open_shop, place_order

API = "/api/v1"


def owner_or_reader(status: int) -> tuple[int, ...]:
    return (401, status, 404, 404, 404, status, status)


CASES = [
    Case(
        "POST", "/orders/{order}/payments", {"method": "cash"}, (401, 409, 404, 404, 404, 404, 404)
    ),
    Case("GET", "/orders/{order}/payments", None, owner_or_reader(200)),
    Case("GET", "/payments/{payment}", None, owner_or_reader(200)),
    Case("GET", "/payments/{payment}/refunds", None, owner_or_reader(200)),
    Case("POST", "/payments/{payment}/refunds", {}, (401, 403, 403, 403, 403, 403, 201)),
    Case("POST", "/webhooks/pawapay/deposits", {"depositId": "x"}, everyone(400)),
    Case("POST", "/webhooks/pawapay/refunds", {"refundId": "x"}, everyone(400)),
    Case("POST", "/webhooks/stripe", {"id": "evt"}, everyone(400)),
]


def test_the_matrix_covers_every_payments_route(app: FastAPI) -> None:
    mine = {
        (method, (context.path or "").removeprefix(API))
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        and route.endpoint.__module__ == "loumo.payments.router"
        for method in route.methods or ()
    }
    covered = {
        (c.method, c.path.replace("{order}", "{order_id}").replace("{payment}", "{payment_id}"))
        for c in CASES
    }
    assert mine == covered


@pytest.mark.parametrize("caller_index", range(len(CALLERS)), ids=CALLERS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.path}" for c in CASES])
async def test_access(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: AsyncSession,
    staff: dict[str, str],
    case: Case,
    caller_index: int,
) -> None:
    users = {name: await create_user(db, role) for name, role in ROLE_OF.items()}
    shop = await open_shop(client, staff)
    order = await place_order(db, shop, users["customer_a"])
    payment = Payment(
        order_id=order.id,
        user_id=order.user_id,
        method="mobile_money",
        provider="pawapay",
        reference=str(uuid.uuid4()),
        amount=order.total,
        currency="XAF",
        status="succeeded",
    )
    db.add(payment)
    await db.flush()
    order.status, order.payment_status = "confirmed", "paid"
    order.paid_payment_id, order.paid_amount = payment.id, order.total
    await db.commit()
    ids = {"order": order.id, "payment": payment.id}

    caller = CALLERS[caller_index]
    headers = {} if caller == "anonymous" else await auth_headers(app, users[caller])
    response = await client.request(
        case.method,
        API + _fill(case.path, ids),
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        json=_fill(case.body, ids),
    )
    assert response.status_code == case.expected[caller_index], response.text
