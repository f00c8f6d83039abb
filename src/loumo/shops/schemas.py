"""Request and response bodies of the shops and stock API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from loumo.core.schemas import Id, Input, Name, PatchInput, Phone, Read, Slug
from loumo.media.schemas import ImageRead, MediaKey

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class OpeningInterval(Input):
    """Opening hours of one stretch of a day, local time, `HH:MM`."""

    open: str = Field(pattern=_HHMM.pattern, examples=["08:00"])
    close: str = Field(pattern=_HHMM.pattern, examples=["20:00"])

    @model_validator(mode="after")
    def _ordered(self) -> OpeningInterval:
        if self.close <= self.open:
            raise ValueError("`close` must be after `open`")
        return self


OpeningHours = dict[Weekday, Annotated[list[OpeningInterval], Field(max_length=4)]]


class ShopCreate(Input):
    name: Name
    slug: Slug | None = Field(default=None, description="Derived from `name` when omitted")
    address: Annotated[str, StringConstraints(max_length=1000)] = ""
    zone_id: Id
    phone: Phone | None = None
    opening_hours: OpeningHours = Field(
        default={}, description='e.g. {"mon": [{"open": "08:00", "close": "20:00"}]}'
    )
    image_key: MediaKey | None = None
    is_active: bool = True


class ShopUpdate(PatchInput):
    """Fields to change; `phone: null` and `image_key: null` clear them."""

    patch_of = ShopCreate
    nullable = frozenset({"phone", "image_key"})


class ShopRead(Read):
    id: str
    name: str
    slug: str
    address: str
    zone_id: str
    phone: str | None
    opening_hours: dict[str, list[OpeningInterval]]
    image_key: str | None
    image: ImageRead | None = None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class StockWrite(Input):
    """Set the on-hand quantity (absolute) and the low-stock threshold."""

    quantity: int = Field(ge=0, le=10**9)
    threshold: int = Field(default=0, ge=0, le=10**9)
    restock_date: date | None = None
    reason: Annotated[str, StringConstraints(max_length=200)] = "count"


class StockAdjustment(Input):
    """A relative change, e.g. +24 for a delivery received or -2 for breakage."""

    delta: int = Field(ge=-(10**9), le=10**9)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _non_zero(self) -> StockAdjustment:
        if self.delta == 0:
            raise ValueError("`delta` must not be zero")
        return self


class StockRead(BaseModel):
    shop_id: str
    variant_id: str
    sku: str
    variant_name: str
    quantity: int
    reserved: int
    available: int = Field(description="quantity - reserved")
    threshold: int
    restock_date: date | None
    low_stock: bool = Field(description="At or below the threshold")
    updated_at: datetime


class StockMovementRead(Read):
    id: str
    shop_id: str
    variant_id: str
    kind: str = Field(description="set, adjustment or sale")
    delta: int
    quantity_after: int
    reason: str
    actor_user_id: str | None
    created_at: datetime
