"""Place an order: its basket's quote (`orders/quote.py`) frozen into an order.

Placing freezes amounts, the address, the fee and a contact phone on the order, holds one use
of the promotion and reserves every line's stock (all or nothing).

The stock rows are the rows every buyer of a popular product writes, and PostgreSQL serialises
the writers of one row: the time a checkout keeps them locked bounds the orders per second of
a product. So the lines are first *held* in a statement of their own, committed at once
(`shops.reservations.hold`, which locks the rows for that statement only), then the order is
written, with the `keep` of its holds (they become the order's reservation when it commits),
its notices and jobs, and for `POST /orders` its stored answer, in one round trip
(`core.writes.writes_together`: on PostgreSQL one statement, run in autocommit). If anything
fails after the hold, `placing` gives the units back; if the process dies in between, the
`stock.release_holds` job does. The promotion's use is held last, after the order's writes
and in one transaction with them (only buyers of one code contend for its row).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.auth import Principal
from loumo.core.db import autocommit, in_autocommit, is_taken, utcnow
from loumo.core.errors import AppError
from loumo.core.ids import new_id
from loumo.core.writes import insert_new, writes_together
from loumo.orders.errors import (
    ContactPhoneRequired,
    InsufficientStock,
    PriceChanged,
)
from loumo.orders.lifecycle import new_event
from loumo.orders.models import Fulfilment, Order, OrderItem
from loumo.orders.notices import tell_customer, tell_managers
from loumo.orders.quote import Quote, available, quote
from loumo.orders.reading import build_read
from loumo.orders.schemas import (
    BasketItem,
    OrderCreate,
    OrderRead,
    QuoteLine,
)
from loumo.orders.states import Actor, OrderStatus, is_prepaid
from loumo.promotions import uses as promotion_uses
from loumo.shops import reservations

logger = structlog.get_logger("loumo.orders")

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out on the phone


@dataclass
class Placed:
    """A placed order, its answer and its lines."""

    order: Order
    read: OrderRead
    lines: list[QuoteLine]


@dataclass
class Placing:
    """A checkout's unit of work (see `placing`): the holder of the stock it held, if any, and
    the reference its order was written under."""

    session: AsyncSession
    holder_id: str | None = None
    reference: str | None = None


@asynccontextmanager
async def placing(session: AsyncSession) -> AsyncIterator[Placing]:
    """Commit the checkout written inside, or give back the stock it held: on any error, and
    on a failed commit (a committed order has no holds left, so nothing is given back twice)."""
    unit = Placing(session)
    try:
        yield unit
        await session.commit()
    except BaseException:
        if unit.holder_id is not None:
            await session.rollback()
            try:
                await reservations.let_go(session, unit.holder_id)
            except Exception:  # the `stock.release_holds` job gives them back later
                logger.exception("stock_hold_not_given_back", holder_id=unit.holder_id)
        raise


def _short_lines(lines: list[QuoteLine]) -> list[dict[str, Any]]:
    return [
        {
            "variant_id": x.variant_id,
            "shop_id": x.shop_id,
            "requested": x.quantity,
            "available": x.available,
            "short": x.short,
        }
        for x in lines
        if x.short > 0
    ]


def _draw_reference() -> str:
    return "LM-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


T = TypeVar("T")


async def placed(session: AsyncSession, place: Callable[[Placing], Awaitable[T]]) -> T:
    """Run `place(unit)` in a checkout's unit of work (`placing`), and again whole when its
    order's reference turned out taken (~never: 32^6 of them): its writes then failed
    together, and `placing` gave its stock back."""
    for _ in range(8):
        try:
            async with placing(session) as unit:
                return await place(unit)
        except IntegrityError:
            if unit.reference is None:
                raise
            taken = await is_taken(session, Order.reference, unit.reference)
            await session.commit()
            if not taken:
                raise
    raise AppError("Could not allocate an order reference; retry")


async def _hold(unit: Placing, holder_id: str, lines: list[QuoteLine]) -> None:
    """Hold every line's stock for the order `holder_id`, or raise 409 naming the short lines
    (nothing held). A session in autocommit (PostgreSQL, see `POST /orders`) runs the hold
    itself; any other ends its reads first: it gives its connection back while the hold uses
    another."""
    session = unit.session
    wanted = [(x.shop_id, x.variant_id, x.quantity) for x in lines]
    in_order = sorted(lines, key=lambda x: (x.shop_id, x.variant_id))
    runs_it = await in_autocommit(session)
    for _ in range(3):  # units given back between a refusal and its reading are held next time
        if not runs_it:
            await session.commit()
        unit.holder_id = holder_id
        if await reservations.hold(session, holder_id, wanted):
            return
        unit.holder_id = None
        free = await available(
            session,
            [BasketItem(variant_id=x.variant_id, shop_id=x.shop_id, quantity=1) for x in in_order],
        )
        short = [x for x in in_order if free.get((x.shop_id, x.variant_id), 0) < x.quantity]
        if short:
            break
    for line in short or in_order:
        line.available = min(
            max(free.get((line.shop_id, line.variant_id), 0), 0), line.quantity - 1
        )
        line.short = line.quantity - line.available
    raise InsufficientStock(
        "Some lines cannot be served; nothing was reserved", lines=_short_lines(short or in_order)
    )


async def place_order(
    session: AsyncSession,
    principal: Principal,
    data: OrderCreate,
    *,
    payment_timeout: timedelta,
) -> Placed:
    """Create the order from a fresh quote and commit it (the session's earlier work too)."""

    async def place(unit: Placing) -> Placed:
        written = await write_order(unit, principal, data, payment_timeout=payment_timeout)
        await claim(session, written)
        return written

    return await placed(session, place)


async def claim(session: AsyncSession, placed: Placed) -> None:
    """The promotion's use, last before the commit (see the module's docstring): 409
    `promotion_unavailable` when it went meanwhile."""
    order = placed.order
    if order.promotion_id is not None:
        await promotion_uses.hold_use(
            session,
            promotion_id=order.promotion_id,
            user_id=order.user_id,
            order_id=order.id,
            discount=order.discount,
        )


async def write_order(
    unit: Placing,
    principal: Principal,
    data: OrderCreate,
    *,
    payment_timeout: timedelta,
) -> Placed:
    """The order from a fresh quote, its stock held, frozen and told, and its answer; not its
    promotion's use: the caller `claim`s it before its commit, after what it still has to
    write (the `POST /orders` route stores its answer first). `place_order` does both. The
    session must have nothing unwritten (it is committed before the stock is held)."""
    session = unit.session
    priced = await quote(session, principal, data)
    read = priced.read
    if data.expected_total is not None and data.expected_total != read.total:
        raise PriceChanged(
            f"The total is now {read.total}, not {data.expected_total}",
            quote=read.model_dump(mode="json"),
        )
    if read.promo_code and not read.promotion_valid:
        raise promotion_uses.PromotionUnavailable(
            f"The code {read.promo_code} does not apply ({read.promotion_reason})",
            reason=read.promotion_reason,
        )
    if not read.available:
        raise InsufficientStock(
            "Some lines cannot be served; nothing was reserved", lines=_short_lines(read.lines)
        )
    phone = data.contact_phone or priced.phone
    if not phone:
        raise ContactPhoneRequired(
            "Your account has no phone number: give a contact_phone for the delivery",
            field="contact_phone",
        )
    now = utcnow()
    prepaid = is_prepaid(data.payment_method)
    address = priced.address
    order = Order(
        id=new_id(),
        user_id=principal.user_id,
        status=(OrderStatus.PENDING_PAYMENT if prepaid else OrderStatus.PLACED).value,
        payment_status="unpaid",
        payment_method=data.payment_method,
        currency=read.currency,
        subtotal=read.subtotal,
        discount=read.discount,
        delivery_fee=read.delivery_fee,
        total=read.total,
        promotion_id=priced.promotion.id if priced.promotion and read.discount else None,
        promo_code=read.promo_code if read.discount else None,
        address_id=address.id,
        zone_id=priced.zone.id,
        delivery_address={
            "label": address.label,
            "street": address.street,
            "locality": address.locality,
            "description": address.description,
            "latitude": address.latitude,
            "longitude": address.longitude,
            "zone_name": priced.zone.name,
        },
        contact_phone=phone,
        expires_at=now + payment_timeout if prepaid else None,
        created_at=now,
        updated_at=now,
    )
    await _hold(unit, order.id, read.lines)
    order.reference = unit.reference = _draw_reference()
    if order.promotion_id is None:
        # Its writes are one statement on PostgreSQL (`_write`): no BEGIN and COMMIT.
        await autocommit(session)
    else:
        # `claim`'s statements follow the order's writes, in one transaction with them.
        await session.commit()
    return await _write(session, principal, order, priced)


async def _write(
    session: AsyncSession, principal: Principal, order: Order, priced: Quote
) -> Placed:
    """Keep the held stock and write the order, its fulfilments, lines, first event and
    notices, in one round trip (`writes_together`; the caller's block, if any, writes them);
    its answer."""
    read = priced.read
    now = order.created_at
    prepaid = is_prepaid(order.payment_method)
    async with writes_together(session):
        await reservations.keep(session, order.id, len(read.lines))
        await insert_new(session, [order])
        by_shop = {
            part.shop_id: Fulfilment(
                id=new_id(),
                order_id=order.id,
                shop_id=part.shop_id,
                status="pending",
                subtotal=part.subtotal,
                discount=part.discount,
                delivery_fee=part.delivery_fee,
                created_at=now,
                updated_at=now,
            )
            for part in read.fulfilments
        }
        items = [
            OrderItem(
                order_id=order.id,
                fulfilment_id=by_shop[line.shop_id].id,
                shop_id=line.shop_id,
                variant_id=line.variant_id,
                product_id=line.product_id,
                name_fr=line.name_fr[:300],
                name_en=line.name_en[:300],
                sku=priced.skus.get(line.variant_id, "")[:80],
                unit_price=line.unit_price,
                quantity=line.quantity,
                line_total=line.line_total,
                discount_share=line.discount_share,
            )
            for line in read.lines
        ]
        event = new_event(
            order.id,
            kind="status",
            actor=Actor.CUSTOMER,
            actor_id=principal.user_id,
            to_status=order.status,
            reason="placed",
        )
        await insert_new(session, list(by_shop.values()))
        await insert_new(session, items)
        await insert_new(session, [event])
        # In id order, as the reads give them (the receipt, the answer).
        fulfilments = sorted(by_shop.values(), key=lambda f: f.id)
        items.sort(key=lambda i: i.id)
        await tell_customer(session, order, "received", items=items, buyer=priced.caller)
        if not prepaid:
            for fulfilment in by_shop.values():
                await tell_managers(session, order, fulfilment, "accept", items=items)
    answer = build_read(order, fulfilments, items, [event])
    return Placed(order, answer, read.lines)
