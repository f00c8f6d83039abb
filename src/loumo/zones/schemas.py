"""Request and response bodies of the zones API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
ZoneName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class ZoneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ZoneName
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    delivery_fee: int = Field(ge=0, le=10**9, description="Integer minor units of `currency`")
    currency: Currency = "XAF"
    is_active: bool = True


class ZoneUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ZoneName | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    delivery_fee: int | None = Field(default=None, ge=0, le=10**9)
    currency: Currency | None = None
    is_active: bool | None = None


class ZoneRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    delivery_fee: int
    currency: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
