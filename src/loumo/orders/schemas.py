"""Request and response bodies of checkout and orders. Amounts are integer minor units.

Inputs forbid unknown fields: a client that sends its own `price`, `unit_price` or `total` gets
a 422 and nothing happens; prices and totals are always the server's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from loumo.core.pagination import CursorParam, LimitParam
from loumo.core.schemas import Id, Input, Phone, Read, UtcDatetime
from loumo.orders.states import FulfilmentStatus, OrderStatus

PaymentMethod = Literal["mobile_money", "card", "cash"]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class BasketItem(Input):
    variant_id: Id
    shop_id: Id
    quantity: int = Field(ge=1, le=1000)


class CheckoutQuoteRequest(Input):
    """A basket: lines of one or several shops, delivered to one of the caller's addresses."""

    items: list[BasketItem] = Field(min_length=1, max_length=100)
    address_id: Id
    promo_code: str | None = Field(default=None, min_length=1, max_length=64)
    payment_method: PaymentMethod = "mobile_money"


class OrderCreate(CheckoutQuoteRequest):
    """A basket to order. `expected_total` (the quote's `total`) guards against repricing."""

    expected_total: int | None = Field(default=None, ge=0)
    contact_phone: Phone | None = Field(
        default=None, description="Required when the account has no phone number"
    )


class QuoteLine(BaseModel):
    variant_id: str
    shop_id: str
    product_id: str
    name_fr: str
    name_en: str
    unit_price: int
    quantity: int
    line_total: int
    discount_share: int
    currency: str
    available: int = Field(description="Units the shop can sell now")
    short: int = Field(description="Units missing for this line (0 when it can be served)")


class QuoteFulfilment(BaseModel):
    """One shop's part of the basket: its lines' subtotal and discount, and the zone's fee."""

    shop_id: str
    shop_name: str
    subtotal: int
    discount: int
    delivery_fee: int


class QuoteRead(BaseModel):
    lines: list[QuoteLine]
    fulfilments: list[QuoteFulfilment]
    subtotal: int
    discount: int
    delivery_fee: int
    total: int
    currency: str
    available: bool = Field(description="Every line can be served now")
    address_id: str
    zone_id: str
    payment_method: PaymentMethod
    promo_code: str | None = None
    promotion_valid: bool | None = None
    promotion_reason: str | None = None


class OrderItemRead(Read):
    id: str
    fulfilment_id: str
    shop_id: str
    variant_id: str
    product_id: str
    name_fr: str
    name_en: str
    sku: str
    unit_price: int
    quantity: int
    line_total: int
    discount_share: int
    short_quantity: int
    refunded_quantity: int
    refunded_amount: int


class FulfilmentRead(Read):
    id: str
    shop_id: str
    status: FulfilmentStatus
    subtotal: int
    discount: int
    delivery_fee: int
    accepted_at: datetime | None


class OrderEventRead(Read):
    id: str
    kind: str
    fulfilment_id: str | None
    actor_id: str | None
    actor_kind: str
    from_status: str | None
    to_status: str | None
    reason: str
    created_at: datetime


class OrderSummary(Read):
    id: str
    reference: str
    user_id: str
    status: OrderStatus
    payment_status: str
    payment_method: PaymentMethod
    subtotal: int
    discount: int
    delivery_fee: int
    total: int
    refunded: int
    currency: str
    zone_id: str
    created_at: datetime
    expires_at: datetime | None


class OrderRead(OrderSummary):
    """An order with its lines, fulfilments and timeline (a shop manager sees their lines only)."""

    promo_code: str | None
    contact_phone: str
    delivery_address: dict[str, Any]
    updated_at: datetime
    items: list[OrderItemRead]
    fulfilments: list[FulfilmentRead]
    timeline: list[OrderEventRead]


class OrderQuery(BaseModel):
    """Filters of `GET /orders` (its query parameters)."""

    status: OrderStatus | None = None
    shop_id: Id | None = None
    zone_id: Id | None = None
    created_from: UtcDatetime | None = None
    created_to: UtcDatetime | None = None
    cursor: CursorParam = None
    limit: LimitParam = 20


class OrderCancel(Input):
    reason: Reason = ""


class OrderTransition(Input):
    to: OrderStatus
    reason: Reason = ""


class FulfilmentTransition(Input):
    to: Literal["preparing", "ready"]
    reason: Reason = ""


class LineShort(Input):
    quantity: int = Field(ge=1, le=1000)
    reason: Reason = ""
