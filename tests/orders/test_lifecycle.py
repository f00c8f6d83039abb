"""The state machines over HTTP (staff, shop managers) and through the functions that payments,
delivery and the expiry job call."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories import jobs_named
from tests.orders.conftest import API, FEE, World, place, reload, stock_of

from loumo.audit.models import AuditEntry
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.jobs.registry import schedules
from loumo.notifications.models import Notification
from loumo.orders import closing, job_names, moves
from loumo.orders import payments_port as port
from loumo.orders.models import Fulfilment, OrderEvent
from loumo.orders.states import (
    FULFILMENT_MOVES,
    ORDER_MOVES,
    Actor,
    FulfilmentStatus,
    IllegalTransition,
    check_order_move,
    derived_status,
)
from loumo.promotions.models import Promotion


def fulfilment_url(order: dict[str, Any], shop_id: str) -> str:
    fulfilment = next(f for f in order["fulfilments"] if f["shop_id"] == shop_id)
    return f"{API}/orders/{order['id']}/fulfilments/{fulfilment['id']}"


async def pay(db: AsyncSession, order: dict[str, Any], payment_id: str = "pay-1") -> bool:
    paid = await port.settle_payment(
        db,
        order["id"],
        payment_id=payment_id,
        amount=order["total"],
        currency="XAF",
        method="mobile_money",
    )
    await db.commit()
    return paid


def test_the_tables_are_the_one_guard() -> None:
    with pytest.raises(IllegalTransition) as refused:
        check_order_move("delivered", "preparing", Actor.STAFF)
    assert refused.value.extra == {"from_status": "delivered", "to_status": "preparing"}
    with pytest.raises(IllegalTransition):
        check_order_move("preparing", "cancelled", Actor.CUSTOMER)
    check_order_move("preparing", "cancelled", Actor.STAFF)
    assert all(actors for actors in ORDER_MOVES.values())
    assert all(actors for actors in FULFILMENT_MOVES.values())
    assert derived_status(["ready", "preparing", "cancelled"]) == "preparing"
    assert derived_status(["delivered", "delivered"]) == "delivered"
    assert derived_status(["cancelled"]) is None


async def test_illegal_staff_transitions_are_409_naming_both_states(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 1))
    url = f"{API}/orders/{order['id']}/transitions"
    response = await client.post(url, json={"to": "preparing"}, headers=world.order_staff)
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "illegal_transition"
    assert (problem["from_status"], problem["to_status"]) == ("pending_payment", "preparing")
    assert "pending_payment" in problem["detail"] and "preparing" in problem["detail"]
    # Only payment confirms a prepaid order; only delivery moves it out.
    paid_only = await client.post(url, json={"to": "confirmed"}, headers=world.order_staff)
    assert paid_only.status_code == 409
    unknown = await client.post(url, json={"to": "teleported"}, headers=world.order_staff)
    assert unknown.status_code == 422
    customer = await client.post(url, json={"to": "cancelled"}, headers=world.buyer.headers)
    assert customer.status_code == 403


async def test_staff_drive_a_cash_order_and_stock_is_sold_once(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 2), payment_method="cash")
    url = f"{API}/orders/{order['id']}/transitions"
    confirmed = await client.post(url, json={"to": "confirmed"}, headers=world.order_staff)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert await stock_of(db, world.shop_a, world.a1) == (8, 0)
    again = await client.post(url, json={"to": "confirmed"}, headers=world.order_staff)
    assert again.status_code == 409
    assert await stock_of(db, world.shop_a, world.a1) == (8, 0)
    preparing = await client.post(url, json={"to": "preparing"}, headers=world.order_staff)
    assert preparing.json()["status"] == "preparing"
    assert preparing.json()["fulfilments"][0]["status"] == "preparing"
    ready = await client.post(url, json={"to": "ready"}, headers=world.order_staff)
    assert ready.json()["status"] == "ready"
    out = await client.post(url, json={"to": "out_for_delivery"}, headers=world.order_staff)
    assert out.status_code == 409  # delivery's move
    actions = list(await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions.count("order.transition") == 3
    events = list(
        await db.scalars(
            select(OrderEvent.to_status)
            .where(OrderEvent.order_id == order["id"], OrderEvent.fulfilment_id.is_(None))
            .order_by(OrderEvent.id)
        )
    )
    assert events == ["placed", "confirmed", "preparing", "ready"]


async def test_shops_accept_and_prepare_their_own_part(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(
        client,
        world,
        (world.a1, world.shop_a, 1),
        (world.b1, world.shop_b, 1),
        payment_method="cash",
    )
    a, b = fulfilment_url(order, world.shop_a), fulfilment_url(order, world.shop_b)
    # Not theirs: another shop's part is invisible, the buyer may not act for a shop.
    assert (await client.post(f"{b}/accept", headers=world.manager_a)).status_code == 404
    assert (await client.post(f"{a}/accept", headers=world.buyer.headers)).status_code == 403
    assert (await client.post(f"{a}/accept", headers=world.other.headers)).status_code == 404
    # Preparing needs acceptance first.
    early = await client.post(f"{a}/transitions", json={"to": "preparing"}, headers=world.manager_a)
    assert early.status_code == 409 and early.json()["code"] == "fulfilment_not_accepted"
    first = await client.post(f"{a}/accept", headers=world.manager_a)
    assert first.status_code == 200 and first.json()["status"] == "placed"
    assert [i["variant_id"] for i in first.json()["items"]] == [world.a1]
    twice = await client.post(f"{a}/accept", headers=world.manager_a)
    assert twice.status_code == 409
    assert await stock_of(db, world.shop_a, world.a1) == (9, 0)
    await client.post(f"{a}/transitions", json={"to": "preparing"}, headers=world.manager_a)
    second = await client.post(f"{b}/accept", headers=world.manager_b)
    # Every shop accepted: confirmed, then the least advanced part (B, pending) leads.
    assert second.json()["status"] == "confirmed"
    await client.post(f"{b}/transitions", json={"to": "preparing"}, headers=world.manager_b)
    assert (await reload(db, order["id"])).status == "preparing"
    await client.post(f"{a}/transitions", json={"to": "ready"}, headers=world.manager_a)
    assert (await reload(db, order["id"])).status == "preparing"
    done = await client.post(f"{b}/transitions", json={"to": "ready"}, headers=world.manager_b)
    assert done.json()["status"] == "ready"
    backwards = await client.post(
        f"{b}/transitions", json={"to": "preparing"}, headers=world.manager_b
    )
    assert backwards.status_code == 409 and backwards.json()["from_status"] == "ready"
    titles = list(
        await db.scalars(
            select(Notification.title).where(Notification.user_id == world.buyer.user.id)
        )
    )
    assert f"Order {order['reference']} is being prepared" in titles
    assert f"Order {order['reference']} is ready" in titles


async def test_a_short_line_drops_a_cash_total(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 3), payment_method="cash")
    a = fulfilment_url(order, world.shop_a)
    item = order["items"][0]["id"]
    short_url = f"{API}/orders/{order['id']}/items/{item}/short"
    await client.post(f"{a}/accept", headers=world.manager_a)
    not_yet = await client.post(short_url, json={"quantity": 1}, headers=world.manager_a)
    assert not_yet.status_code == 409
    await client.post(f"{a}/transitions", json={"to": "preparing"}, headers=world.manager_a)
    response = await client.post(short_url, json={"quantity": 1}, headers=world.manager_a)
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 2 * 1500 + FEE
    assert response.json()["items"][0]["short_quantity"] == 1
    too_many = await client.post(short_url, json={"quantity": 3}, headers=world.manager_a)
    assert too_many.status_code == 409
    assert await jobs_named(db, job_names.ORDER_LINE_SHORT_JOB) == []


async def test_a_short_line_of_a_paid_order_asks_payments_to_refund_it(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 3))
    assert await pay(db, order)
    a = fulfilment_url(order, world.shop_a)
    await client.post(f"{a}/transitions", json={"to": "preparing"}, headers=world.manager_a)
    item = order["items"][0]["id"]
    response = await client.post(
        f"{API}/orders/{order['id']}/items/{item}/short",
        json={"quantity": 2},
        headers=world.manager_a,
    )
    assert response.status_code == 200
    assert response.json()["total"] == order["total"]
    jobs = await jobs_named(db, job_names.ORDER_LINE_SHORT_JOB)
    assert [j.payload for j in jobs] == [{"order_id": order["id"], "item_id": item, "quantity": 2}]


async def test_settling_a_payment_confirms_sells_and_is_idempotent(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 2), (world.b1, world.shop_b, 1))
    wrong_amount = await port.settle_payment(
        db, order["id"], payment_id="p0", amount=1, currency="XAF", method="mobile_money"
    )
    assert wrong_amount is False
    assert await pay(db, order, "p1") is True
    assert await pay(db, order, "p1") is True  # the same payment again: no second effect
    assert await pay(db, order, "p2") is False  # another payment: refund it
    paid = await reload(db, order["id"])
    assert (paid.status, paid.payment_status, paid.paid_amount) == (
        "confirmed",
        "paid",
        order["total"],
    )
    assert await stock_of(db, world.shop_a, world.a1) == (8, 0)
    assert await stock_of(db, world.shop_b, world.b1) == (9, 0)
    emails = [j.payload["template"] for j in await jobs_named(db, "email.send")]
    assert emails.count("payment_received") == 1
    assert emails.count("fulfilment_to_prepare") == 2  # each shop's manager, once
    notices = list(await db.scalars(select(Notification.title)))
    assert sum("To prepare" in t for t in notices) == 2


async def test_payment_port_ownership_and_payability(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 1))
    buyer = Principal(user_id=world.buyer.user.id)
    found = await port.get_own_order_for_payment(db, buyer, order["id"])
    assert (found.reference, found.total, found.customer_language) == (
        order["reference"],
        order["total"],
        "en",
    )
    with pytest.raises(port.OrderNotFound):
        await port.get_own_order_for_payment(
            db, Principal(user_id=world.other.user.id), order["id"]
        )
    with pytest.raises(port.OrderNotFound):
        await port.get_order_for_staff(db, buyer, order["id"])
    staff = Principal(user_id="x", permissions=frozenset({"orders:read"}))
    assert (await port.get_order_for_staff(db, staff, order["id"])).id == order["id"]
    await port.set_payment_in_flight(db, order["id"], True)
    await port.note_payment_failed(db, order["id"], payment_id="p1", reason="insufficient funds")
    await db.commit()
    assert (await reload(db, order["id"])).payment_in_flight is True
    await client.post(f"{API}/orders/{order['id']}/cancel", headers=world.buyer.headers)
    with pytest.raises(port.OrderNotPayable):
        await port.get_own_order_for_payment(db, buyer, order["id"])
    # Cancelled while a payment was under way: payments is told, to refund what may arrive.
    assert len(await jobs_named(db, job_names.ORDER_CANCELLED_JOB)) == 1
    assert await pay(db, order) is False


async def test_expiry_gives_stock_and_the_promotion_back_once(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    db.add(Promotion(code="EXP", kind="fixed", value=100))
    await db.commit()
    due = await place(client, world, (world.a1, world.shop_a, 2), promo_code="EXP")
    in_flight = await place(client, world, (world.a2, world.shop_a, 1))
    cash = await place(client, world, (world.b1, world.shop_b, 1), payment_method="cash")
    await port.set_payment_in_flight(db, in_flight["id"], True)
    await db.commit()
    assert await closing.expire_due(db) == 0  # nothing is due yet
    later = utcnow() + timedelta(hours=1)
    assert await closing.expire_due(db, now=later) == 1
    await db.commit()
    assert await closing.expire_due(db, now=later) == 0
    await db.commit()
    assert (await reload(db, due["id"])).status == "expired"
    assert (await reload(db, in_flight["id"])).status == "pending_payment"
    assert (await reload(db, cash["id"])).status == "placed"
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)
    assert await stock_of(db, world.shop_a, world.a2) == (10, 1)
    assert (
        await db.scalar(select(Promotion.uses_count).execution_options(populate_existing=True)) == 0
    )
    statuses = await db.scalars(select(Fulfilment.status).where(Fulfilment.order_id == due["id"]))
    assert list(statuses) == ["cancelled"]
    assert "order_expired" in [j.payload["template"] for j in await jobs_named(db, "email.send")]
    # Money that arrives after expiry is refused (payments refunds it).
    assert await pay(db, due) is False
    assert {s.name for s in schedules()} >= {"orders.expire", "idempotency.purge"}


async def test_delivery_moves_fulfilments_and_the_order_follows(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 1))
    assert await pay(db, order)
    a = fulfilment_url(order, world.shop_a)
    for to in ("preparing", "ready"):
        await client.post(f"{a}/transitions", json={"to": to}, headers=world.manager_a)
    fulfilment = await db.get(Fulfilment, order["fulfilments"][0]["id"], populate_existing=True)
    assert fulfilment is not None
    with pytest.raises(IllegalTransition):
        await moves.advance_fulfilment(
            db, fulfilment, FulfilmentStatus.OUT_FOR_DELIVERY, actor=Actor.MANAGER, actor_id=None
        )
    for to in (FulfilmentStatus.OUT_FOR_DELIVERY, FulfilmentStatus.DELIVERED):
        await moves.advance_fulfilment(db, fulfilment, to, actor=Actor.DELIVERY, actor_id=None)
    await db.commit()
    delivered = await reload(db, order["id"])
    assert delivered.status == "delivered" and delivered.delivered_at is not None
    templates = [j.payload["template"] for j in await jobs_named(db, "email.send")]
    assert "order_out_for_delivery" in templates and "delivered" in templates
    done = await client.post(
        f"{API}/orders/{order['id']}/transitions",
        json={"to": "completed"},
        headers=world.order_staff,
    )
    assert done.json()["status"] == "completed"


async def test_refund_arithmetic(client: httpx.AsyncClient, world: World, db: AsyncSession) -> None:
    db.add(Promotion(code="R10", kind="percentage", value=10))
    await db.commit()
    order = await place(
        client, world, (world.a1, world.shop_a, 3), (world.b1, world.shop_b, 1), promo_code="R10"
    )
    # 4500 + 4000 = 8500, 10% = 850 shared 450 / 400; two fees.
    assert order["discount"] == 850
    shares = {i["variant_id"]: (i["id"], i["discount_share"]) for i in order["items"]}
    assert shares[world.a1][1] == 450 and shares[world.b1][1] == 400
    with pytest.raises(port.RefundExceedsPaid):
        await port.plan_refund(db, order["id"], None)  # nothing paid yet
    assert await pay(db, order)
    a1_item = shares[world.a1][0]
    one = await port.plan_refund(db, order["id"], [port.RefundLineRequest(a1_item, 1, True)])
    assert (one.amount, one.full) == ((4500 - 450) // 3, False)
    await port.apply_refund(db, order["id"], one, refund_id="r1")
    await port.apply_refund(db, order["id"], one, refund_id="r1")  # once per refund id
    await db.commit()
    after = await reload(db, order["id"])
    assert (after.refunded, after.payment_status) == (1350, "partially_refunded")
    assert await stock_of(db, world.shop_a, world.a1) == (8, 0)  # sold 3, one restocked
    rest = await port.plan_refund(db, order["id"], [port.RefundLineRequest(a1_item, 2, False)])
    assert rest.amount == 4500 - 450 - 1350  # the last units take the remainder
    with pytest.raises(port.RefundQuantityExceeded):
        await port.plan_refund(db, order["id"], [port.RefundLineRequest(a1_item, 3, False)])
    with pytest.raises(port.UnknownOrderItem):
        await port.plan_refund(db, order["id"], [port.RefundLineRequest("nope", 1, False)])
    whole = await port.plan_refund(db, order["id"], None)
    assert whole.full and whole.amount == order["total"] - 1350  # fees included
    await port.apply_refund(db, order["id"], whole, refund_id="r2")
    await db.commit()
    final = await reload(db, order["id"])
    assert (final.refunded, final.payment_status) == (order["total"], "refunded")
    with pytest.raises(port.RefundExceedsPaid):
        await port.plan_refund(db, order["id"], None)
    templates = [j.payload["template"] for j in await jobs_named(db, "email.send")]
    assert templates.count("refund_issued") == 2
