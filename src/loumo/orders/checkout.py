"""Quote and place: the basket priced on the server, then the order created in one unit of work.

Placing freezes amounts, the address, the fee and a contact phone on the order, holds one use
of the promotion and reserves every line's stock (all or nothing: one conditional UPDATE per
line, in a fixed order so that concurrent baskets never deadlock; a short line raises and the
request's rollback gives back what was taken).

The promotion and the stock rows are the rows every buyer of a popular product writes: they are
claimed last, after the order, its timeline, its notices and its answer are written, so that
each checkout holds their row locks only for the few statements before its commit (PostgreSQL
serialises the writers of one row; the time under the lock bounds the orders per second of a
product).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Address, User
from loumo.catalog.models import Product, Variant
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.errors import AppError
from loumo.orders.errors import (
    AddressOutsideZones,
    ContactPhoneRequired,
    InsufficientStock,
    MixedCurrencies,
    PriceChanged,
    UnknownAddress,
)
from loumo.orders.lifecycle import add_event
from loumo.orders.models import Fulfilment, Order, OrderItem
from loumo.orders.notices import tell_customer, tell_managers
from loumo.orders.reading import order_read
from loumo.orders.schemas import (
    BasketItem,
    CheckoutQuoteRequest,
    OrderCreate,
    OrderRead,
    QuoteFulfilment,
    QuoteLine,
    QuoteRead,
)
from loumo.orders.states import Actor, OrderStatus, is_prepaid
from loumo.promotions import service as promotions
from loumo.promotions.models import Promotion
from loumo.promotions.schemas import BasketLine, Reason
from loumo.shops import reservations
from loumo.shops.models import Shop, Stock
from loumo.zones import service as zones
from loumo.zones.models import Zone

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out on the phone


@dataclass
class Placed:
    """A placed order, and its answer (read before the stock was claimed, see above)."""

    order: Order
    read: OrderRead


@dataclass
class Quote:
    """The priced basket, with what placing needs beyond the public `QuoteRead`."""

    read: QuoteRead
    zone: Zone
    address: Address
    promotion: Promotion | None
    skus: dict[str, str]


def merge_items(items: list[BasketItem]) -> list[BasketItem]:
    """One line per (variant, shop): repeated lines add up, in first-seen order."""
    merged: dict[tuple[str, str], int] = {}
    for item in items:
        key = (item.variant_id, item.shop_id)
        merged[key] = merged.get(key, 0) + item.quantity
    return [BasketItem(variant_id=v, shop_id=s, quantity=q) for (v, s), q in merged.items()]


def share(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights`, in whole minor units (largest remainder)."""
    whole = sum(weights)
    if whole <= 0 or total <= 0:
        return [0] * len(weights)
    exact = [total * w for w in weights]
    parts = [e // whole for e in exact]
    left = total - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] % whole), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts


async def _address(session: AsyncSession, user_id: str, address_id: str) -> tuple[Address, Zone]:
    address = await session.scalar(
        select(Address).where(Address.id == address_id, Address.user_id == user_id)
    )
    if address is None:
        raise UnknownAddress("address_id is not one of your addresses", field="address_id")
    # The address's zone while it is active and still covers it (coverage may have changed
    # since the address was saved), else the active zone that covers it now, else a 400.
    zone = await session.get(Zone, address.zone_id)
    place = (address.locality, address.latitude, address.longitude)
    if zone is None or not zones.accepts(zone, *place):
        zone = await zones.zone_for(session, *place)
    if zone is None:
        raise AddressOutsideZones(
            "This address is in no active delivery zone; choose or update another address",
            field="address_id",
        )
    return address, zone


async def _available(session: AsyncSession, items: list[BasketItem]) -> dict[tuple[str, str], int]:
    pairs = [(i.shop_id, i.variant_id) for i in items]
    rows = await session.execute(
        select(Stock.shop_id, Stock.variant_id, Stock.quantity - Stock.reserved).where(
            tuple_(Stock.shop_id, Stock.variant_id).in_(pairs)
        )
    )
    return {(shop, variant): int(free) for shop, variant, free in rows}


async def quote(session: AsyncSession, principal: Principal, data: CheckoutQuoteRequest) -> Quote:
    """Price the basket from the catalog, the promotion and the address's zone."""
    items = merge_items(data.items)
    address, zone = await _address(session, principal.user_id, data.address_id)
    priced = await promotions.price_lines(
        session,
        [
            BasketLine(variant_id=i.variant_id, shop_id=i.shop_id, quantity=i.quantity)
            for i in items
        ],
    )
    currencies = {line.currency for line in priced}
    if len(currencies) > 1 or zone.currency not in currencies:
        raise MixedCurrencies("Every line and the delivery fee must be in one currency")
    currency = zone.currency

    promotion: Promotion | None = None
    promotion_valid: bool | None = None
    promotion_reason: Reason | None = None
    discount = 0
    covered = [False] * len(priced)
    if data.promo_code:
        promotion = await promotions.find_by_code(session, data.promo_code)
        if promotion is None:
            promotion_valid, promotion_reason = False, "unknown_code"
        else:
            result = await promotions.evaluate(
                session, promotion, priced, user_id=principal.user_id
            )
            promotion_valid, promotion_reason = result.valid, result.reason
            if result.valid:
                discount = result.discount
                covered = await promotions.covered_lines(session, promotion, priced)
        # Unknown, retired and future codes look alike to customers (staff see which).
        promotion_reason = promotions.disclosed(
            promotion_reason, detailed=principal.has("promotions:read")
        )
    shares = share(
        discount, [line.amount if c else 0 for line, c in zip(priced, covered, strict=True)]
    )

    details = (
        await session.execute(
            select(Variant.id, Variant.name, Variant.sku, Product.name_fr, Product.name_en)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id.in_({line.variant_id for line in priced}))
        )
    ).all()
    names = {row[0]: (f"{row[3]} ({row[1]})", f"{row[4]} ({row[1]})") for row in details}
    skus = {row[0]: row[2] for row in details}
    free = await _available(session, items)
    lines = []
    for line, cut in zip(priced, shares, strict=True):
        available = max(free.get((line.shop_id, line.variant_id), 0), 0)
        lines.append(
            QuoteLine(
                variant_id=line.variant_id,
                shop_id=line.shop_id,
                product_id=line.product_id,
                name_fr=names[line.variant_id][0],
                name_en=names[line.variant_id][1],
                unit_price=line.unit_price,
                quantity=line.quantity,
                line_total=line.amount,
                discount_share=cut,
                currency=line.currency,
                available=available,
                short=max(line.quantity - available, 0),
            )
        )

    shop_ids = list(dict.fromkeys(line.shop_id for line in lines))
    shop_names = dict(
        (await session.execute(select(Shop.id, Shop.name).where(Shop.id.in_(shop_ids)))).all()
    )
    fulfilments = [
        QuoteFulfilment(
            shop_id=shop_id,
            shop_name=shop_names.get(shop_id, ""),
            subtotal=sum(x.line_total for x in lines if x.shop_id == shop_id),
            discount=sum(x.discount_share for x in lines if x.shop_id == shop_id),
            delivery_fee=zone.delivery_fee,
        )
        for shop_id in shop_ids
    ]
    subtotal = sum(x.line_total for x in lines)
    delivery_fee = sum(f.delivery_fee for f in fulfilments)
    read = QuoteRead(
        lines=lines,
        fulfilments=fulfilments,
        subtotal=subtotal,
        discount=discount,
        delivery_fee=delivery_fee,
        total=subtotal - discount + delivery_fee,
        currency=currency,
        available=all(x.short == 0 for x in lines),
        address_id=address.id,
        zone_id=zone.id,
        payment_method=data.payment_method,
        promo_code=promotions.normalize_code(data.promo_code) if data.promo_code else None,
        promotion_valid=promotion_valid,
        promotion_reason=promotion_reason,
    )
    return Quote(read=read, zone=zone, address=address, promotion=promotion, skus=skus)


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


async def _new_reference(session: AsyncSession) -> str:
    for _ in range(8):
        reference = "LM-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        if await session.scalar(select(Order.id).where(Order.reference == reference)) is None:
            return reference
    raise AppError("Could not allocate an order reference; retry")  # ~never: 32^6 references


async def _reserve_all(session: AsyncSession, lines: list[QuoteLine]) -> None:
    """Reserve every line or raise 409 naming the short ones (the rollback undoes the rest)."""
    short = []
    for line in sorted(lines, key=lambda x: (x.shop_id, x.variant_id)):
        if not await reservations.reserve(session, line.shop_id, line.variant_id, line.quantity):
            short.append(line)
    if short:
        now_free = await _available(
            session,
            [BasketItem(variant_id=x.variant_id, shop_id=x.shop_id, quantity=1) for x in short],
        )
        for line in short:
            free = max(now_free.get((line.shop_id, line.variant_id), 0), 0)
            line.available = min(free, line.quantity - 1)
            line.short = line.quantity - line.available
        raise InsufficientStock(
            "Some lines cannot be served; nothing was reserved", lines=_short_lines(short)
        )


async def place_order(
    session: AsyncSession,
    principal: Principal,
    data: OrderCreate,
    *,
    payment_timeout: timedelta,
) -> Placed:
    """Create the order from a fresh quote: freeze, tell, hold the promotion, reserve."""
    priced = await quote(session, principal, data)
    read = priced.read
    if data.expected_total is not None and data.expected_total != read.total:
        raise PriceChanged(
            f"The total is now {read.total}, not {data.expected_total}",
            quote=read.model_dump(mode="json"),
        )
    if read.promo_code and not read.promotion_valid:
        raise promotions.PromotionUnavailable(
            f"The code {read.promo_code} does not apply ({read.promotion_reason})",
            reason=read.promotion_reason,
        )
    if not read.available:
        raise InsufficientStock(
            "Some lines cannot be served; nothing was reserved", lines=_short_lines(read.lines)
        )
    phone = data.contact_phone or await session.scalar(
        select(User.phone).where(User.id == principal.user_id)
    )
    if not phone:
        raise ContactPhoneRequired(
            "Your account has no phone number: give a contact_phone for the delivery",
            field="contact_phone",
        )
    now = utcnow()
    prepaid = is_prepaid(data.payment_method)
    address = priced.address
    order = Order(
        reference=await _new_reference(session),
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
    session.add(order)
    await session.flush()
    by_shop: dict[str, Fulfilment] = {}
    for part in read.fulfilments:
        fulfilment = Fulfilment(
            order_id=order.id,
            shop_id=part.shop_id,
            status="pending",
            subtotal=part.subtotal,
            discount=part.discount,
            delivery_fee=part.delivery_fee,
        )
        session.add(fulfilment)
        by_shop[part.shop_id] = fulfilment
    await session.flush()
    session.add_all(
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
    )
    await session.flush()
    await add_event(
        session,
        order.id,
        kind="status",
        actor=Actor.CUSTOMER,
        actor_id=principal.user_id,
        to_status=order.status,
        reason="placed",
    )
    await tell_customer(session, order, "received")
    if not prepaid:
        for fulfilment in by_shop.values():
            await tell_managers(session, order, fulfilment, "accept")
    answer = await order_read(session, order)
    # The contended rows, last (see the module's docstring); promotion before stock, always.
    if order.promotion_id is not None:
        # Race-safe: refused (409 `promotion_unavailable`) when the last use went meanwhile.
        await promotions.hold_use(
            session,
            promotion_id=order.promotion_id,
            user_id=principal.user_id,
            order_id=order.id,
            discount=order.discount,
        )
    await _reserve_all(session, read.lines)
    return Placed(order, answer)
