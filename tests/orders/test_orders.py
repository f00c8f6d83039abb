"""Reading, listing and cancelling orders: ownership, the manager's view, release exactly once."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories import jobs_named
from tests.orders.conftest import API, World, key, place, reload, stock_of

from loumo.audit.models import AuditEntry
from loumo.core.db import utcnow
from loumo.orders import job_names
from loumo.orders.lifecycle import release_holds
from loumo.promotions.models import Promotion


async def test_the_buyer_lists_their_orders_newest_first_with_a_cursor(
    client: httpx.AsyncClient, world: World
) -> None:
    made = [await place(client, world, (world.a1, world.shop_a, 1)) for _ in range(3)]
    await place(client, world, (world.a1, world.shop_a, 1), buyer=world.other)
    first = await client.get(f"{API}/orders?limit=2", headers=world.buyer.headers)
    assert first.status_code == 200
    page = first.json()
    assert [o["id"] for o in page["items"]] == [made[2]["id"], made[1]["id"]]
    rest = await client.get(
        f"{API}/orders?limit=2&cursor={page['next_cursor']}", headers=world.buyer.headers
    )
    assert [o["id"] for o in rest.json()["items"]] == [made[0]["id"]]
    assert rest.json()["next_cursor"] is None


async def test_staff_list_everything_and_filter(client: httpx.AsyncClient, world: World) -> None:
    mine = await place(client, world, (world.a1, world.shop_a, 1))
    theirs = await place(client, world, (world.b1, world.shop_b, 1), buyer=world.other)
    cash = await place(client, world, (world.a2, world.shop_a, 1), payment_method="cash")
    every = await client.get(f"{API}/orders", headers=world.order_staff)
    assert {o["id"] for o in every.json()["items"]} == {mine["id"], theirs["id"], cash["id"]}
    by_shop = await client.get(f"{API}/orders?shop_id={world.shop_b}", headers=world.order_staff)
    assert [o["id"] for o in by_shop.json()["items"]] == [theirs["id"]]
    placed = await client.get(f"{API}/orders?status=placed", headers=world.order_staff)
    assert [o["id"] for o in placed.json()["items"]] == [cash["id"]]
    by_zone = await client.get(f"{API}/orders?zone_id={world.zone_id}", headers=world.order_staff)
    assert len(by_zone.json()["items"]) == 3
    later = (utcnow() + timedelta(minutes=5)).isoformat()
    none = await client.get(
        f"{API}/orders", params={"created_from": later}, headers=world.order_staff
    )
    assert none.json()["items"] == []


async def test_another_customer_gets_404_on_read_and_cancel(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 1))
    read = await client.get(f"{API}/orders/{order['id']}", headers=world.other.headers)
    assert read.status_code == 404
    cancel = await client.post(f"{API}/orders/{order['id']}/cancel", headers=world.other.headers)
    assert cancel.status_code == 404
    unknown = await client.get(f"{API}/orders/{'0' * 32}", headers=world.buyer.headers)
    assert unknown.status_code == 404
    assert (await reload(db, order["id"])).status == "pending_payment"
    listed = await client.get(f"{API}/orders", headers=world.other.headers)
    assert listed.json()["items"] == []


async def test_a_shop_manager_sees_only_their_lines(
    client: httpx.AsyncClient, world: World
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 1), (world.b1, world.shop_b, 2))
    solo_b = await place(client, world, (world.b1, world.shop_b, 1))
    as_a = await client.get(f"{API}/orders/{order['id']}", headers=world.manager_a)
    assert as_a.status_code == 200
    assert [i["variant_id"] for i in as_a.json()["items"]] == [world.a1]
    assert [f["shop_id"] for f in as_a.json()["fulfilments"]] == [world.shop_a]
    listed = await client.get(f"{API}/orders", headers=world.manager_a)
    assert [o["id"] for o in listed.json()["items"]] == [order["id"]]
    hidden = await client.get(f"{API}/orders/{solo_b['id']}", headers=world.manager_a)
    assert hidden.status_code == 404
    # Managers see but do not cancel.
    refused = await client.post(f"{API}/orders/{order['id']}/cancel", headers=world.manager_a)
    assert refused.status_code == 403


async def test_cancel_releases_stock_and_the_promotion_use_exactly_once(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    db.add(Promotion(code="FIVE", kind="fixed", value=100, max_uses=5))
    await db.commit()
    order = await place(client, world, (world.a1, world.shop_a, 3), promo_code="FIVE")
    assert await stock_of(db, world.shop_a, world.a1) == (10, 3)
    assert await db.scalar(select(Promotion.uses_count)) == 1
    response = await client.post(
        f"{API}/orders/{order['id']}/cancel",
        json={"reason": "changed my mind"},
        headers=world.buyer.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancelled"
    assert [f["status"] for f in body["fulfilments"]] == ["cancelled"]
    assert body["timeline"][-2]["to_status"] == "cancelled"
    assert body["timeline"][-2]["reason"] == "changed my mind"
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)
    await db.commit()
    assert (
        await db.scalar(select(Promotion.uses_count).execution_options(populate_existing=True)) == 0
    )
    again = await client.post(f"{API}/orders/{order['id']}/cancel", headers=world.buyer.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "illegal_transition"
    assert again.json()["from_status"] == "cancelled"
    # The release itself is guarded too: a second call gives nothing back twice.
    cancelled = await reload(db, order["id"])
    assert await release_holds(db, cancelled, actor_id=None) is False
    await db.commit()
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)
    # An unpaid order with no payment under way: payments has nothing to refund.
    assert await jobs_named(db, job_names.ORDER_CANCELLED_JOB) == []


async def test_the_customer_cannot_cancel_once_preparing_but_staff_can(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 2), payment_method="cash")
    fulfilment = order["fulfilments"][0]["id"]
    base = f"{API}/orders/{order['id']}/fulfilments/{fulfilment}"
    assert (await client.post(f"{base}/accept", headers=world.manager_a)).status_code == 200
    moved = await client.post(
        f"{base}/transitions", json={"to": "preparing"}, headers=world.manager_a
    )
    assert moved.json()["status"] == "preparing"
    refused = await client.post(f"{API}/orders/{order['id']}/cancel", headers=world.buyer.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "illegal_transition"
    staff = await client.post(
        f"{API}/orders/{order['id']}/cancel",
        json={"reason": "shop closed"},
        headers=world.order_staff,
    )
    assert staff.status_code == 200
    # Sold at acceptance: the units go back on the shelf.
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)
    audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "order.cancel"))
    assert audit is not None and audit.actor_id is not None
    emails = await jobs_named(db, "email.send")
    assert "fulfilment_cancelled" in [j.payload["template"] for j in emails]


async def test_cancel_of_a_paid_order_tells_payments(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    from loumo.orders.payments_port import settle_payment

    order = await place(client, world, (world.a1, world.shop_a, 1))
    assert await settle_payment(
        db,
        order["id"],
        payment_id="pay-1",
        amount=order["total"],
        currency="XAF",
        method="mobile_money",
    )
    await db.commit()
    response = await client.post(f"{API}/orders/{order['id']}/cancel", headers=world.buyer.headers)
    assert response.status_code == 200
    jobs = await jobs_named(db, job_names.ORDER_CANCELLED_JOB)
    assert [j.payload for j in jobs] == [{"order_id": order["id"]}]
    # Sold when paid; back on the shelf when cancelled.
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)


async def test_bad_cursors_and_filters_are_4xx(client: httpx.AsyncClient, world: World) -> None:
    bad = await client.get(f"{API}/orders?cursor=nope", headers=world.buyer.headers)
    assert bad.status_code == 400
    status = await client.get(f"{API}/orders?status=bogus", headers=world.buyer.headers)
    assert status.status_code == 422
    anonymous = await client.get(f"{API}/orders")
    assert anonymous.status_code == 401
    no_key = await client.post(f"{API}/orders", json={}, headers={**world.buyer.headers, **key()})
    assert no_key.status_code == 422
