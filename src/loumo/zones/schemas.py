"""Request and response bodies of the zones API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from loumo.core.schemas import Currency, Input, Name, PatchInput, Read

Description = Annotated[str, StringConstraints(max_length=2000)]


class ZoneCreate(Input):
    name: Name
    description: Description = ""
    delivery_fee: int = Field(ge=0, le=10**9, description="Integer minor units of `currency`")
    currency: Currency = "XAF"
    is_active: bool = True


class ZoneUpdate(PatchInput):
    name: Name | None = None
    description: Description | None = None
    delivery_fee: int | None = Field(default=None, ge=0, le=10**9)
    currency: Currency | None = None
    is_active: bool | None = None


class ZoneRead(Read):
    id: str
    name: str
    description: str
    delivery_fee: int
    currency: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
