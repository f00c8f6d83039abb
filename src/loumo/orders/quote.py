"""The quote: a basket priced on the server (catalog prices, the promotion, each shop's
fulfilment with its zone's fee, availability per line), which placing an order freezes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.directory import as_recipient
from loumo.accounts.models import Address, User
from loumo.catalog.models import Category, Product, Variant
from loumo.core.auth import Principal
from loumo.notifications.service import Recipient
from loumo.orders.errors import (
    AddressOutsideZones,
    MixedCurrencies,
    UnknownAddress,
)
from loumo.orders.schemas import (
    BasketItem,
    CheckoutQuoteRequest,
    QuoteFulfilment,
    QuoteLine,
    QuoteRead,
)
from loumo.promotions import service as promotions
from loumo.promotions.models import Promotion
from loumo.promotions.schemas import BasketLine, Reason
from loumo.promotions.service import PricedLine
from loumo.shops.models import Shop, Stock
from loumo.zones import service as zones
from loumo.zones.models import Zone


@dataclass
class Quote:
    """The priced basket, with what placing needs beyond the public `QuoteRead`."""

    read: QuoteRead
    zone: Zone
    address: Address
    promotion: Promotion | None
    skus: dict[str, str]
    phone: str | None  # the caller's account phone, the default contact
    caller: Recipient  # the caller, to whom the order's notices go


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


# Built once (every quote and checkout runs them): the values go as parameters.
_ADDRESS = (
    select(
        Address,
        Zone,
        User.phone,
        User.email,
        User.email_verified_at,
        User.name,
        User.language,
    )
    .join(User, User.id == Address.user_id)
    .outerjoin(Zone, Zone.id == Address.zone_id)
    .where(Address.id == bindparam("a_id"), Address.user_id == bindparam("a_user"))
)
_BASKET = (
    select(
        Shop.id,
        Shop.name,
        Variant.id,
        Variant.price,
        Variant.currency,
        Variant.name,
        Variant.sku,
        Product.id,
        Product.name_fr,
        Product.name_en,
        Category.path,
        Stock.quantity - Stock.reserved,
    )
    .select_from(Variant)
    .join(Product, Product.id == Variant.product_id)
    .join(Category, Category.id == Product.category_id)
    .join(Shop, Shop.id.in_(bindparam("b_shops", expanding=True)))
    .outerjoin(Stock, and_(Stock.shop_id == Shop.id, Stock.variant_id == Variant.id))
    .where(
        Variant.id.in_(bindparam("b_variants", expanding=True)),
        tuple_(Shop.id, Variant.id).in_(bindparam("b_pairs", expanding=True)),
        Variant.is_active.is_(True),
        Product.is_active.is_(True),
        Shop.is_active.is_(True),
    )
)


async def _address(
    session: AsyncSession, user_id: str, address_id: str
) -> tuple[Address, Zone, str | None, Recipient]:
    """The caller's address, its zone, the caller's phone and the caller as a recipient (of
    the order's notices), in one read."""
    row = (await session.execute(_ADDRESS, {"a_id": address_id, "a_user": user_id})).first()
    if row is None:
        raise UnknownAddress("address_id is not one of your addresses", field="address_id")
    address, found, phone, email, verified_at, name, language = row
    caller = as_recipient(user_id, email, verified_at, name, language)
    zone: Zone | None = found
    # The address's zone while it is active and still covers it (coverage may have changed
    # since the address was saved), else the active zone that covers it now, else a 400.
    place = (address.locality, address.latitude, address.longitude)
    if zone is None or not zones.accepts(zone, *place):
        zone = await zones.zone_for(session, *place)
    if zone is None:
        raise AddressOutsideZones(
            "This address is in no active delivery zone; choose or update another address",
            field="address_id",
        )
    return address, zone, phone, caller


@dataclass
class _Basket:
    """The basket's lines priced from the catalog, with their names, SKUs, shops and stock."""

    priced: list[PricedLine]
    names: dict[str, tuple[str, str]]
    skus: dict[str, str]
    shop_names: dict[str, str]
    free: dict[tuple[str, str], int]


async def _basket(session: AsyncSession, items: list[BasketItem]) -> _Basket:
    """Price the lines in one joined read: variant, product, category, shop and stock.

    A line whose variant or shop is unknown or inactive gets no row; then
    `promotions.price_lines` names the first such line in a 400, as for any basket."""
    pairs = [(i.shop_id, i.variant_id) for i in items]
    rows = (
        await session.execute(
            _BASKET,
            {
                "b_shops": sorted({shop for shop, _ in pairs}),
                "b_variants": sorted({variant for _, variant in pairs}),
                "b_pairs": pairs,
            },
        )
    ).all()
    found = {(row[0], row[2]): row for row in rows}
    if any(pair not in found for pair in pairs):
        lines = [BasketLine(variant_id=v, shop_id=s, quantity=1) for s, v in pairs]
        await promotions.price_lines(session, lines)  # raises the 400 naming the line
        raise promotions.UnknownBasketItem("A line of the basket is not for sale")
    basket = _Basket([], {}, {}, {}, {})
    for item in items:
        shop_id, shop_name, variant_id, price, currency, variant_name, sku = found[
            (item.shop_id, item.variant_id)
        ][:7]
        product_id, name_fr, name_en, path, free = found[(item.shop_id, item.variant_id)][7:]
        basket.priced.append(
            PricedLine(variant_id, product_id, path, shop_id, item.quantity, price, currency)
        )
        basket.names[variant_id] = (f"{name_fr} ({variant_name})", f"{name_en} ({variant_name})")
        basket.skus[variant_id] = sku
        basket.shop_names[shop_id] = shop_name
        basket.free[(shop_id, variant_id)] = int(free or 0)
    return basket


async def available(session: AsyncSession, items: list[BasketItem]) -> dict[tuple[str, str], int]:
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
    address, zone, phone, caller = await _address(session, principal.user_id, data.address_id)
    basket = await _basket(session, items)
    priced = basket.priced
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

    names, free = basket.names, basket.free
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
    shop_names = basket.shop_names
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
    return Quote(
        read=read,
        zone=zone,
        address=address,
        promotion=promotion,
        skus=basket.skus,
        phone=phone,
        caller=caller,
    )
