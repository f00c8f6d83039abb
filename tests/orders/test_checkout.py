"""Quote and place over HTTP: server-side amounts, fees per shop, the 4xx answers, idempotency."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from tests.factories import count, jobs_named
from tests.orders.conftest import API, FEE, World, key, make_buyer, place, reload, stock_of

from loumo.accounts.models import User
from loumo.catalog.models import Variant
from loumo.jobs.models import Job
from loumo.notifications.models import Notification
from loumo.orders import quote as quoting
from loumo.orders.models import Order, OrderEvent, OrderItem
from loumo.promotions.models import Promotion, PromotionRedemption
from loumo.shops.models import Stock
from loumo.zones.models import Zone


async def test_quote_prices_lines_and_one_fee_per_shop(
    client: httpx.AsyncClient, world: World
) -> None:
    body = world.basket((world.a1, world.shop_a, 2), (world.a2, world.shop_a, 1))
    body["items"].append({"variant_id": world.b1, "shop_id": world.shop_b, "quantity": 3})
    response = await client.post(f"{API}/checkout/quote", json=body, headers=world.buyer.headers)
    assert response.status_code == 200, response.text
    quote = response.json()
    assert [(x["unit_price"], x["quantity"], x["line_total"]) for x in quote["lines"]] == [
        (1500, 2, 3000),
        (2500, 1, 2500),
        (4000, 3, 12000),
    ]
    assert quote["subtotal"] == 17500
    assert [(f["shop_id"], f["subtotal"], f["delivery_fee"]) for f in quote["fulfilments"]] == [
        (world.shop_a, 5500, FEE),
        (world.shop_b, 12000, FEE),
    ]
    assert quote["delivery_fee"] == 2 * FEE
    assert quote["discount"] == 0
    assert quote["total"] == 17500 + 2 * FEE
    assert quote["currency"] == "XAF"
    assert quote["available"] is True
    assert all(x["short"] == 0 and x["available"] == 10 for x in quote["lines"])


async def test_quote_shows_what_is_short_and_the_discount(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    db.add(Promotion(code="TENPCT", kind="percentage", value=10))
    await db.commit()
    body = world.basket((world.a1, world.shop_a, 12), (world.b1, world.shop_b, 1))
    body["promo_code"] = "tenpct"
    quote = (
        await client.post(f"{API}/checkout/quote", json=body, headers=world.buyer.headers)
    ).json()
    assert quote["available"] is False
    assert [(x["available"], x["short"]) for x in quote["lines"]] == [(10, 2), (10, 0)]
    assert quote["promo_code"] == "TENPCT" and quote["promotion_valid"] is True
    assert quote["discount"] == (18000 + 4000) // 10
    assert sum(x["discount_share"] for x in quote["lines"]) == quote["discount"]
    assert quote["total"] == 22000 - 2200 + 2 * FEE


async def test_placing_freezes_amounts_reserves_stock_and_tells_the_buyer(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(
        client,
        world,
        (world.a1, world.shop_a, 2),
        (world.b1, world.shop_b, 1),
        payment_method="mobile_money",
    )
    assert re.fullmatch(r"LM-[2-9A-HJ-NP-Z]{6}", order["reference"])
    assert order["status"] == "pending_payment"
    assert order["payment_status"] == "unpaid"
    assert order["total"] == 3000 + 4000 + 2 * FEE
    assert order["contact_phone"] == "+237650000001"
    assert order["delivery_address"]["street"] == "Rue 1"
    assert order["expires_at"] is not None
    assert len(order["fulfilments"]) == 2
    assert {(i["variant_id"], i["unit_price"], i["quantity"]) for i in order["items"]} == {
        (world.a1, 1500, 2),
        (world.b1, 4000, 1),
    }
    assert order["timeline"][0]["to_status"] == "pending_payment"
    assert await stock_of(db, world.shop_a, world.a1) == (10, 2)
    assert await stock_of(db, world.shop_b, world.b1) == (10, 1)
    # A later price change does not touch the frozen order.
    await db.execute(update(Variant).where(Variant.id == world.a1).values(price=9999))
    await db.commit()
    again = await client.get(f"{API}/orders/{order['id']}", headers=world.buyer.headers)
    assert again.json()["total"] == order["total"]
    notices = await db.scalars(
        select(Notification.title).where(Notification.user_id == world.buyer.user.id)
    )
    assert [f"Order {order['reference']} received"] == list(notices)
    emails = await jobs_named(db, "email.send")
    received = [j for j in emails if j.payload["template"] == "order_received"]
    assert len(received) == 1 and received[0].payload["context"]["lines"][0]["quantity"] in (1, 2)


async def test_the_receipt_goes_in_the_buyers_language(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    """The buyer as checkout read them with their address (not read again for the notice)."""
    await db.execute(update(User).where(User.id == world.buyer.user.id).values(language="fr"))
    await db.commit()
    order = await place(client, world, (world.a1, world.shop_a, 1))
    notices = await db.scalars(
        select(Notification.title).where(Notification.user_id == world.buyer.user.id)
    )
    assert list(notices) == [f"Commande {order['reference']} reçue"]
    emails = [j.payload for j in await jobs_named(db, "email.send")]
    assert [(e["template"], e["language"], e["to"]) for e in emails] == [
        ("order_received", "fr", world.buyer.user.email)
    ]


async def test_a_cash_order_starts_placed_and_asks_the_shops(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 1), payment_method="cash")
    assert order["status"] == "placed"
    assert order["expires_at"] is None
    emails = await jobs_named(db, "email.send")
    assert [
        j.payload["context"]["action"]
        for j in emails
        if j.payload["template"] == "fulfilment_to_prepare"
    ] == ["accept"]


async def test_insufficient_stock_is_409_listing_the_lines_and_reserves_nothing(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    body = world.basket((world.a1, world.shop_a, 3), (world.b1, world.shop_b, 11))
    response = await client.post(
        f"{API}/orders", json=body, headers={**world.buyer.headers, **key()}
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "insufficient_stock"
    assert problem["lines"] == [
        {
            "variant_id": world.b1,
            "shop_id": world.shop_b,
            "requested": 11,
            "available": 10,
            "short": 1,
        }
    ]
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)
    assert await count(db, Order) == 0


async def test_a_late_shortage_rolls_back_every_reservation(
    client: httpx.AsyncClient, world: World, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quote saw enough, but the stock went before the reservation: the lines already
    reserved are given back by the rollback, and nothing is left behind."""
    seen = quoting.available

    async def stale(session: AsyncSession, items: Any) -> dict[tuple[str, str], int]:
        return dict.fromkeys(await seen(session, items), 10)

    monkeypatch.setattr(quoting, "available", stale)
    await db.execute(update(Stock).where(Stock.variant_id == world.b1).values(quantity=0))
    await db.commit()
    # Shop A's line is reserved first (shops in id order), then shop B's fails.
    body = world.basket((world.a1, world.shop_a, 3), (world.b1, world.shop_b, 1))
    response = await client.post(
        f"{API}/orders", json=body, headers={**world.buyer.headers, **key()}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert [x["variant_id"] for x in response.json()["lines"]] == [world.b1]
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)
    assert await count(db, Order) == 0


async def test_expected_total_mismatch_is_409_price_changed_with_the_new_quote(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    body = world.basket((world.a1, world.shop_a, 1), expected_total=1500 + FEE - 1)
    response = await client.post(
        f"{API}/orders", json=body, headers={**world.buyer.headers, **key()}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "price_changed"
    assert response.json()["quote"]["total"] == 1500 + FEE
    assert await count(db, Order) == 0
    body["expected_total"] = 1500 + FEE
    ok = await client.post(f"{API}/orders", json=body, headers={**world.buyer.headers, **key()})
    assert ok.status_code == 201


async def test_client_prices_and_totals_are_refused_and_change_nothing(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    body = world.basket((world.a1, world.shop_a, 1))
    body["items"][0]["unit_price"] = 1
    response = await client.post(
        f"{API}/orders", json=body, headers={**world.buyer.headers, **key()}
    )
    assert response.status_code == 422
    body = world.basket((world.a1, world.shop_a, 1), total=1)
    response = await client.post(
        f"{API}/orders", json=body, headers={**world.buyer.headers, **key()}
    )
    assert response.status_code == 422
    assert await count(db, Order) == 0
    assert await stock_of(db, world.shop_a, world.a1) == (10, 0)


async def test_idempotency_key_on_post_orders(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    body = world.basket((world.a1, world.shop_a, 1))
    missing = await client.post(f"{API}/orders", json=body, headers=world.buyer.headers)
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    headers = {**world.buyer.headers, **key()}
    first = await client.post(f"{API}/orders", json=body, headers=headers)
    again = await client.post(f"{API}/orders", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = world.basket((world.a1, world.shop_a, 2))
    reused = await client.post(f"{API}/orders", json=other, headers=headers)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert await count(db, Order) == 1
    assert await stock_of(db, world.shop_a, world.a1) == (10, 1)


async def test_addresses_that_do_not_fit_are_400(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    body = world.basket((world.a1, world.shop_a, 1))
    body["address_id"] = world.other.address_id  # someone else's
    response = await client.post(f"{API}/checkout/quote", json=body, headers=world.buyer.headers)
    assert response.status_code == 400 and response.json()["code"] == "unknown_address"
    await db.execute(update(Zone).where(Zone.id == world.zone_id).values(is_active=False))
    await db.commit()
    body["address_id"] = world.buyer.address_id
    response = await client.post(
        f"{API}/orders", json=body, headers={**world.buyer.headers, **key()}
    )
    assert response.status_code == 400 and response.json()["code"] == "address_outside_zones"


async def test_a_contact_phone_is_required_without_one_on_the_account(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    buyer = await make_buyer(world.app, db, world.zone_id, phone=None)
    body = {
        "items": [{"variant_id": world.a1, "shop_id": world.shop_a, "quantity": 1}],
        "address_id": buyer.address_id,
    }
    refused = await client.post(f"{API}/orders", json=body, headers={**buyer.headers, **key()})
    assert refused.status_code == 400 and refused.json()["code"] == "contact_phone_required"
    body["contact_phone"] = "+237 699 00 00 00"
    placed = await client.post(f"{API}/orders", json=body, headers={**buyer.headers, **key()})
    assert placed.status_code == 201
    assert placed.json()["contact_phone"] == "+237 699 00 00 00"


async def test_a_promotion_use_is_held_and_counts_for_the_customer_limit(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    db.add(Promotion(code="ONCE", kind="fixed", value=500, max_uses_per_customer=1))
    await db.commit()
    order = await place(client, world, (world.a1, world.shop_a, 1), promo_code="ONCE")
    assert order["discount"] == 500 and order["promo_code"] == "ONCE"
    assert order["total"] == 1500 - 500 + FEE
    items = list(await db.scalars(select(OrderItem.discount_share)))
    assert items == [500]
    assert (await db.scalar(select(Promotion.uses_count))) == 1
    assert await count(db, PromotionRedemption) == 1
    body = world.basket((world.a1, world.shop_a, 1), promo_code="ONCE")
    second = await client.post(f"{API}/orders", json=body, headers={**world.buyer.headers, **key()})
    assert second.status_code == 409 and second.json()["code"] == "promotion_unavailable"
    assert await count(db, Order) == 1


async def test_unknown_retired_and_future_codes_look_alike_in_a_quote(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    now = datetime.now(UTC)
    db.add_all(
        [
            Promotion(code="OLD", kind="fixed", value=500, is_active=False),
            Promotion(code="SOON", kind="fixed", value=500, starts_at=now + timedelta(days=3)),
            Promotion(code="GONE", kind="fixed", value=500, ends_at=now - timedelta(days=3)),
        ]
    )
    await db.commit()
    reasons = []
    for code in ("NOPE", "OLD", "SOON", "GONE"):
        body = world.basket((world.a1, world.shop_a, 1), promo_code=code)
        quote = await client.post(f"{API}/checkout/quote", json=body, headers=world.buyer.headers)
        assert quote.status_code == 200 and quote.json()["promotion_valid"] is False
        assert quote.json()["discount"] == 0
        reasons.append(quote.json()["promotion_reason"])
    assert reasons == ["not_valid"] * 4


async def test_unknown_items_are_400(client: httpx.AsyncClient, world: World) -> None:
    body = world.basket(("f" * 32, world.shop_a, 1))
    response = await client.post(f"{API}/checkout/quote", json=body, headers=world.buyer.headers)
    assert response.status_code == 400


async def test_the_timeline_names_who_placed_it(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    order = await place(client, world, (world.a1, world.shop_a, 1))
    event = await db.scalar(select(OrderEvent).where(OrderEvent.order_id == order["id"]))
    assert event is not None
    assert (event.actor_id, event.actor_kind) == (world.buyer.user.id, "customer")
    assert (await reload(db, order["id"])).status == "pending_payment"
    assert await count(db, Job) >= 1
