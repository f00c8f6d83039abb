"""Payment I/O: what a customer sends to pay, what anyone allowed sees of a payment."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from loumo.core.schemas import Id, Input, Read

Method = Literal["mobile_money", "card", "cash"]
ProviderName = Literal["pawapay", "stripe", "cash"]


class PaymentCreate(Input):
    """`{"method", "provider"?, "phone"?}`: pay an order of yours."""

    method: Method
    provider: ProviderName | None = Field(
        default=None, description="Defaults to the method's provider (pawapay for mobile money)"
    )
    phone: str | None = Field(
        default=None,
        min_length=6,
        max_length=32,
        description="Mobile money number with its country code; defaults to the order's phone",
    )


class PaymentRead(Read):
    id: str
    order_id: str
    method: str
    provider: str
    reference: str = Field(description="Our reference at the provider (pawaPay's depositId)")
    amount: int
    currency: str
    phone: str | None
    operator: str | None
    status: str
    failure_code: str | None
    failure_reason: str | None
    refunded_amount: int
    client_secret: str | None = Field(description="Stripe: confirm the card with it")
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None


class RefundLineIn(Input):
    item_id: Id
    quantity: int = Field(gt=0, le=100_000)
    restock: bool = Field(default=False, description="Put the units back into stock")


class RefundCreate(Input):
    """A whole refund (no `lines`) or some lines of the order."""

    lines: list[RefundLineIn] | None = Field(default=None, min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=500)


class RefundRead(Read):
    id: str
    payment_id: str
    order_id: str
    reference: str
    amount: int
    currency: str
    full: bool
    lines: list[dict[str, object]]
    reason: str
    status: str
    failure_code: str | None
    created_at: datetime
