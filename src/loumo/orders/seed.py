"""Demo orders of the demo customer, in several states (idempotent: none when they have some)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Address, User
from loumo.core.auth import Principal
from loumo.orders import closing, moves
from loumo.orders.checkout import place_order
from loumo.orders.lifecycle import sell_fulfilment
from loumo.orders.models import Order
from loumo.orders.queries import fulfilments_of
from loumo.orders.schemas import BasketItem, OrderCreate
from loumo.orders.states import Actor, FulfilmentStatus
from loumo.shops.models import Shop, Stock
from loumo.zones import service as zones
from loumo.zones.models import Zone

DEMO_CUSTOMER_EMAIL = "customer@loumo.example"
DEMO_PHONE = "+237 650 00 00 00"


async def _address(session: AsyncSession, user: User, zone_id: str) -> Address:
    """The demo customer's address, placed in the zone covering Bastos (else `zone_id`)."""
    address = await session.scalar(
        select(Address).where(Address.user_id == user.id).order_by(Address.id).limit(1)
    )
    if address is None:
        covering = await zones.zone_for(session, "Bastos", None, None)
        address = Address(
            user_id=user.id,
            label="Maison",
            street="Rue de l'Hippodrome",
            locality="Bastos",
            zone_id=covering.id if covering else zone_id,
            is_default=True,
        )
        session.add(address)
        await session.flush()
    return address


async def seed_demo_orders(session: AsyncSession) -> int:
    """Orders awaiting payment, placed (cash), preparing, ready and cancelled; returns how many."""
    user = await session.scalar(select(User).where(User.email == DEMO_CUSTOMER_EMAIL))
    if user is None:
        return 0
    if await session.scalar(select(Order.id).where(Order.user_id == user.id).limit(1)):
        return 0
    stock = list(
        (
            await session.execute(
                select(Stock.shop_id, Stock.variant_id, Shop.zone_id)
                .join(Shop, Shop.id == Stock.shop_id)
                .join(Zone, Zone.id == Shop.zone_id)
                .where(Stock.quantity - Stock.reserved >= 5, Shop.is_active, Zone.is_active)
                .order_by(Stock.shop_id, Stock.variant_id)
                .limit(6)
            )
        ).all()
    )
    if len(stock) < 2:
        return 0
    address = await _address(session, user, stock[0][2])
    buyer = Principal(user_id=user.id)

    async def order(method: str, *picks: int) -> Order:
        items = [
            BasketItem(
                variant_id=stock[i % len(stock)][1], shop_id=stock[i % len(stock)][0], quantity=1
            )
            for i in picks
        ]
        data = OrderCreate(
            items=items, address_id=address.id, payment_method=method, contact_phone=DEMO_PHONE
        )
        placed = await place_order(session, buyer, data, payment_timeout=timedelta(hours=24))
        return placed.order

    await order("mobile_money", 0, 1)  # awaiting payment
    await order("cash", 2)  # placed: the shop has to accept it
    for target in (FulfilmentStatus.PREPARING, FulfilmentStatus.READY):
        cash = await order("cash", 3, 4)
        for fulfilment in await fulfilments_of(session, cash.id):
            await _accept(session, cash, fulfilment.id)
        for fulfilment in await fulfilments_of(session, cash.id):
            for step in (FulfilmentStatus.PREPARING, FulfilmentStatus.READY):
                await moves.advance_fulfilment(
                    session, fulfilment, step, actor=Actor.STAFF, actor_id=None
                )
                if step == target:
                    break
    cancelled = await order("mobile_money", 5)
    await closing.cancel(session, cancelled, actor=Actor.CUSTOMER, actor_id=user.id, reason="demo")
    return 5


async def _accept(session: AsyncSession, order: Order, fulfilment_id: str) -> None:
    fulfilment = next(f for f in await fulfilments_of(session, order.id) if f.id == fulfilment_id)
    await sell_fulfilment(session, fulfilment, actor_id=None)
    await moves.confirm_cash(session, order, actor=Actor.STAFF, actor_id=None)
