"""A small shop to pay orders in: a zone, a shop with a variant in stock, buyers with an address,
and orders placed the way checkout places them (stock reserved, amounts frozen)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.db import utcnow
from loumo.core.settings import Settings
from loumo.jobs.runner import run_pending
from loumo.orders.models import Fulfilment, Order, OrderItem
from loumo.payments.models import Payment
from loumo.shops import reservations
from tests.factories import make_category, make_product, make_shop, make_zone

API = "/api/v1"
PRICE, FEE = 2000, 1000
MTN_OK = "237670000000"
MTN_BROKE = "237670000001"
MTN_TIMEOUT = "237670000003"
MTN_DROPPED = "237670000005"
MTN_TWICE = "237670000006"
MTN_SLOW = "237670000007"


@dataclass
class Shop:
    zone_id: str
    shop_id: str
    variant_id: str
    product_id: str


async def open_shop(client: httpx.AsyncClient, staff: dict[str, str], stock: int = 50) -> Shop:
    zone = await make_zone(client, staff, delivery_fee=FEE)
    shop = await make_shop(client, staff, zone["id"])
    category = await make_category(client, staff, f"Cat {uuid.uuid4().hex[:6]}")
    product = await make_product(client, staff, category["id"], name_fr="Riz", prices=(PRICE,))
    variant = product["variants"][0]["id"]
    response = await client.put(
        f"{API}/shops/{shop['id']}/stock/{variant}", json={"quantity": stock}, headers=staff
    )
    assert response.status_code == 200, response.text
    return Shop(zone["id"], shop["id"], variant, product["id"])


async def place_order(
    db: AsyncSession,
    shop: Shop,
    buyer: User,
    *,
    quantity: int = 2,
    method: str = "mobile_money",
    phone: str = MTN_OK,
) -> Order:
    """An order as checkout leaves it: stock reserved, amounts frozen, awaiting its money."""
    assert await reservations.reserve(db, shop.shop_id, shop.variant_id, quantity)
    subtotal = PRICE * quantity
    order = Order(
        reference=f"LM-{uuid.uuid4().hex[:6].upper()}",
        user_id=buyer.id,
        status="pending_payment" if method != "cash" else "placed",
        payment_method=method,
        currency="XAF",
        subtotal=subtotal,
        delivery_fee=FEE,
        total=subtotal + FEE,
        zone_id=shop.zone_id,
        contact_phone=phone,
        expires_at=utcnow() + timedelta(minutes=30),
    )
    db.add(order)
    await db.flush()
    fulfilment = Fulfilment(
        order_id=order.id, shop_id=shop.shop_id, subtotal=subtotal, delivery_fee=FEE
    )
    db.add(fulfilment)
    await db.flush()
    db.add(
        OrderItem(
            order_id=order.id,
            fulfilment_id=fulfilment.id,
            shop_id=shop.shop_id,
            variant_id=shop.variant_id,
            product_id=shop.product_id,
            name_fr="Riz",
            name_en="Rice",
            unit_price=PRICE,
            quantity=quantity,
            line_total=subtotal,
        )
    )
    await db.commit()
    return order


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def pay(
    client: httpx.AsyncClient, headers: dict[str, str], order_id: str, phone: str | None = MTN_OK
) -> httpx.Response:
    body: dict[str, object] = {"method": "mobile_money"}
    if phone is not None:
        body["phone"] = phone
    return await client.post(
        f"{API}/orders/{order_id}/payments", json=body, headers={**headers, **key()}
    )


async def run_jobs(db: AsyncSession, settings: Settings) -> int:
    return await run_pending(db, settings)


async def reload_order(db: AsyncSession, order_id: str) -> Order:
    order = await db.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    assert order is not None
    return order


async def reload_payment(db: AsyncSession, payment_id: str) -> Payment:
    payment = await db.scalar(
        select(Payment).where(Payment.id == payment_id).execution_options(populate_existing=True)
    )
    assert payment is not None
    return payment
