"""Delivery zones: where orders are delivered, and at what fee."""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin
from loumo.core.ids import new_id


class Zone(TimestampMixin, Base):
    """An area that orders are delivered into, with its delivery fee.

    Coverage: `localities` (names as staff wrote them, matched by `coverage.normalise_locality`)
    and an optional `polygon` of `[lat, lng]` points. A zone with neither covers only the
    addresses explicitly given to it (`zones.service.accepts`).
    """

    __tablename__ = "zones"
    __table_args__ = (CheckConstraint("delivery_fee >= 0", name="delivery_fee_non_negative"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    delivery_fee: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="XAF")
    is_active: Mapped[bool] = mapped_column(default=True)
    localities: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    polygon: Mapped[list[list[float]] | None] = mapped_column(JSON, default=None)
