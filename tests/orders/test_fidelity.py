"""Fidelity points: an order paid through the pawaPay sandbox, delivered, then completed (by the
`orders.complete` job `ORDER_COMPLETE_AFTER` after delivery, or by staff) earns `FIDELITY_RATE`
points per 100 XAF paid for goods, once; refunds take back their share, once each.

Fulfilments go out for delivery and are delivered through `moves.advance_fulfilment` with
`Actor.DELIVERY`, the function the delivery package will call: its HTTP routes come with the
delivery issue, and these tests should then drive them instead.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from tests.conftest import AuthHeaders
from tests.orders.conftest import API, World, key, place, reload
from tests.payments.support import MTN_OK, run_jobs

from loumo.accounts.models import FidelityEntry
from loumo.core.db import utcnow
from loumo.core.settings import Settings
from loumo.jobs.outbox import defer
from loumo.jobs.registry import schedules
from loumo.notifications.models import Notification
from loumo.orders import fidelity, moves
from loumo.orders.models import Fulfilment, Order, OrderEvent, OrderItem
from loumo.orders.states import Actor, FulfilmentStatus
from loumo.promotions.models import Promotion


@pytest.fixture
async def refunder(auth_headers: AuthHeaders) -> dict[str, str]:
    return await auth_headers("refunder00000000000000000000001", permissions=["payments:refund"])


async def paid_order(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    settings: Settings,
    quantity: int,
    **more: Any,
) -> tuple[dict[str, Any], str]:
    """An order of `quantity` units of a1 (1500 XAF) paid by mobile money through the sandbox
    (signed callback, status fetched): its body and the payment id."""
    order = await place(client, world, (world.a1, world.shop_a, quantity), **more)
    payment = await client.post(
        f"{API}/orders/{order['id']}/payments",
        json={"method": "mobile_money", "phone": MTN_OK},
        headers={**world.buyer.headers, **key()},
    )
    assert payment.status_code == 201, payment.text
    await run_jobs(db, settings)
    paid = (await client.get(f"{API}/orders/{order['id']}", headers=world.buyer.headers)).json()
    assert (paid["status"], paid["payment_status"]) == ("confirmed", "paid"), paid
    return paid, payment.json()["id"]


async def deliver(
    client: httpx.AsyncClient, world: World, db: AsyncSession, order: dict[str, Any]
) -> None:
    """The shop prepares it over HTTP; delivery takes it out and delivers it."""
    fulfilment_id = order["fulfilments"][0]["id"]
    url = f"{API}/orders/{order['id']}/fulfilments/{fulfilment_id}/transitions"
    for to in ("preparing", "ready"):
        moved = await client.post(url, json={"to": to}, headers=world.manager_a)
        assert moved.status_code == 200, moved.text
    fulfilment = await db.get(Fulfilment, fulfilment_id, populate_existing=True)
    assert fulfilment is not None
    for step in (FulfilmentStatus.OUT_FOR_DELIVERY, FulfilmentStatus.DELIVERED):
        await moves.advance_fulfilment(db, fulfilment, step, actor=Actor.DELIVERY, actor_id=None)
    await db.commit()
    assert (await reload(db, order["id"])).status == "delivered"


async def run_completion_job(db: AsyncSession, settings: Settings) -> None:
    await defer(db, "orders.complete", {})
    await db.commit()
    await run_jobs(db, settings)


async def points_on_me(client: httpx.AsyncClient, world: World) -> int:
    me = await client.get(f"{API}/me", headers=world.buyer.headers)
    assert me.status_code == 200, me.text
    points: int = me.json()["fidelity_points"]
    return points


async def ledger(db: AsyncSession, order_id: str) -> list[tuple[str, int]]:
    rows = await db.execute(
        select(FidelityEntry.reason, FidelityEntry.points)
        .where(FidelityEntry.order_id == order_id)
        .order_by(FidelityEntry.created_at, FidelityEntry.points.desc())
    )
    return [(reason, points) for reason, points in rows]


async def refund(
    client: httpx.AsyncClient,
    db: AsyncSession,
    settings: Settings,
    refunder: dict[str, str],
    payment_id: str,
    body: dict[str, Any],
) -> None:
    response = await client.post(
        f"{API}/payments/{payment_id}/refunds", json=body, headers={**refunder, **key()}
    )
    assert response.status_code == 201, response.text
    await run_jobs(db, settings)  # refund → sandbox → signed callback → status fetched → applied


async def item_id(db: AsyncSession, order_id: str) -> str:
    found = await db.scalar(select(OrderItem.id).where(OrderItem.order_id == order_id))
    assert found is not None
    return found


async def test_the_job_completes_a_delivered_order_after_the_delay_and_awards_once(
    client: httpx.AsyncClient, world: World, db: AsyncSession, sandbox: Settings
) -> None:
    assert sandbox.order_complete_after == timedelta(hours=24)
    assert sandbox.fidelity_rate == Decimal(1)
    assert "orders.complete" in {s.name for s in schedules()}
    order, _ = await paid_order(client, world, db, sandbox, quantity=4)  # 6000 + 1000 fee
    await deliver(client, world, db, order)

    await run_completion_job(db, sandbox)  # delivered just now: not yet
    assert (await reload(db, order["id"])).status == "delivered"
    assert await points_on_me(client, world) == 0

    await db.execute(
        update(Order)
        .where(Order.id == order["id"])
        .values(delivered_at=utcnow() - timedelta(hours=25))
    )
    await db.commit()
    await run_completion_job(db, sandbox)
    await run_completion_job(db, sandbox)  # a second run completes nothing twice
    done = await reload(db, order["id"])
    assert done.status == "completed" and done.completed_at is not None
    assert await points_on_me(client, world) == 60  # 6000 XAF of goods, the fee excluded
    assert await ledger(db, order["id"]) == [("order_completed", 60)]
    moves = list(
        await db.scalars(
            select(OrderEvent.actor_kind).where(
                OrderEvent.order_id == order["id"], OrderEvent.to_status == "completed"
            )
        )
    )
    assert moves == ["system"]
    told = list(
        await db.scalars(
            select(Notification.body).where(
                Notification.user_id == world.buyer.user.id,
                Notification.title.contains(order["reference"]),
            )
        )
    )
    assert any("60 " in body and "fid" in body for body in told), told


async def test_staff_complete_a_delivered_order_once_and_the_job_adds_nothing(
    client: httpx.AsyncClient, world: World, db: AsyncSession, sandbox: Settings
) -> None:
    order, _ = await paid_order(client, world, db, sandbox, quantity=2)  # 3000 XAF of goods
    url = f"{API}/orders/{order['id']}/transitions"
    early = await client.post(url, json={"to": "completed"}, headers=world.order_staff)
    assert early.status_code == 409 and early.json()["code"] == "illegal_transition"
    await deliver(client, world, db, order)
    done = await client.post(url, json={"to": "completed"}, headers=world.order_staff)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    again = await client.post(url, json={"to": "completed"}, headers=world.order_staff)
    assert again.status_code == 409
    await db.execute(
        update(Order)
        .where(Order.id == order["id"])
        .values(delivered_at=utcnow() - timedelta(days=3))
    )
    await db.commit()
    await run_completion_job(db, sandbox)
    assert await points_on_me(client, world) == 30
    assert await ledger(db, order["id"]) == [("order_completed", 30)]


async def test_refunds_after_completion_take_back_their_share_down_to_zero(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    sandbox: Settings,
    refunder: dict[str, str],
) -> None:
    db.add(Promotion(code="TEN", kind="percentage", value=10))
    await db.commit()
    # 3 x 1500 = 4500, less 10 % = 4050 XAF of goods: 40 points (rounded down).
    order, payment_id = await paid_order(client, world, db, sandbox, quantity=3, promo_code="TEN")
    await deliver(client, world, db, order)
    staff = world.order_staff
    completed = await client.post(
        f"{API}/orders/{order['id']}/transitions", json={"to": "completed"}, headers=staff
    )
    assert completed.status_code == 200, completed.text
    assert await points_on_me(client, world) == 40

    line = await item_id(db, order["id"])
    one = {"lines": [{"item_id": line, "quantity": 1, "restock": False}]}
    await refund(client, db, sandbox, refunder, payment_id, one)
    # 1350 of the 4050 paid for goods: 40 x 1350 / 4050 = 13.3, so 13 points go back.
    assert await points_on_me(client, world) == 27
    await refund(client, db, sandbox, refunder, payment_id, {})  # the rest, the fee with it
    assert (await reload(db, order["id"])).payment_status == "refunded"
    assert await points_on_me(client, world) == 0  # never below zero
    entries = await ledger(db, order["id"])
    assert [points for _, points in entries] == [40, -13, -27]
    assert all(reason.startswith("refund:") for reason, _ in entries[1:])
    assert len({reason for reason, _ in entries}) == 3


async def test_a_refund_before_completion_means_points_on_the_net_only(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    sandbox: Settings,
    refunder: dict[str, str],
) -> None:
    order, payment_id = await paid_order(client, world, db, sandbox, quantity=4)  # 6000 XAF
    line = await item_id(db, order["id"])
    one = {"lines": [{"item_id": line, "quantity": 1, "restock": True}]}
    await refund(client, db, sandbox, refunder, payment_id, one)  # 1500 back before delivery
    assert await ledger(db, order["id"]) == []  # nothing awarded yet, nothing taken
    await deliver(client, world, db, order)
    await db.execute(
        update(Order)
        .where(Order.id == order["id"])
        .values(delivered_at=utcnow() - timedelta(hours=25))
    )
    await db.commit()
    await run_completion_job(db, sandbox)
    assert (await reload(db, order["id"])).status == "completed"
    assert await points_on_me(client, world) == 45  # 4500 kept for goods
    assert await ledger(db, order["id"]) == [("order_completed", 45)]


def test_points_are_per_100_whole_units_rounded_down() -> None:
    assert fidelity.points_for(6_000, "XAF", Decimal(1)) == 60
    assert fidelity.points_for(6_099, "XAF", Decimal(1)) == 60
    assert fidelity.points_for(6_000, "XAF", Decimal("2.5")) == 150
    assert fidelity.points_for(12_345, "EUR", Decimal(1)) == 1  # 123.45 EUR
    assert fidelity.points_for(6_000, "XAF", Decimal(0)) == 0
    assert fidelity.refund_reason("r1") == "refund:r1"
    assert len(fidelity.refund_reason("x" * 64)) == 50
