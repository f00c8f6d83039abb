"""Shops, their managers, stock per (shop, variant) and the stock movement ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    Text,
    and_,
    false,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin, utcnow
from loumo.core.ids import new_id

# A manager who leaves (their user row goes) stops managing: the link goes with them.
shop_managers = Table(
    "shop_managers",
    Base.metadata,
    Column(
        "shop_id",
        String(32),
        ForeignKey("shops.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "user_id",
        String(32),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Shop(TimestampMixin, Base):
    """A shop that stocks variants and serves one delivery zone."""

    __tablename__ = "shops"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    address: Mapped[str] = mapped_column(Text, default="")
    zone_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("zones.id", ondelete="RESTRICT"), index=True
    )
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    image_key: Mapped[str | None] = mapped_column(String(128), default=None)
    is_active: Mapped[bool] = mapped_column(default=True)


class Stock(Base):
    """How many units of a variant a shop holds, and how many are reserved by open checkouts.

    The CHECK constraints are the last line of defence: every write is a conditional UPDATE, so a
    decrement that would break them changes no row instead of failing.
    """

    __tablename__ = "stocks"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= quantity", name="reserved_within_quantity"),
        CheckConstraint("threshold >= 0", name="threshold_non_negative"),
        Index("ix_stocks_variant_id_shop_id", "variant_id", "shop_id"),
    )

    shop_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    variant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True
    )
    quantity: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    threshold: Mapped[int] = mapped_column(default=0)
    restock_date: Mapped[date | None] = mapped_column(default=None)
    # A crossing below the threshold sets `low_stock_alerted` (and defers one `stock.low` job);
    # the job sets `low_stock_notified` when it has told the managers. Restocking above the
    # threshold clears both, arming the next crossing.
    low_stock_alerted: Mapped[bool] = mapped_column(default=False)
    low_stock_notified: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @hybrid_property
    def is_low(self) -> bool:
        """At or below its threshold (a threshold of 0 means none): in Python and in SQL."""
        return self.threshold > 0 and self.quantity <= self.threshold

    @is_low.inplace.expression
    @classmethod
    def _is_low(cls) -> ColumnElement[bool]:
        return and_(cls.threshold > 0, cls.quantity <= cls.threshold)


class StockHold(Base):
    """Units a checkout took from a stock row (`reserved`) before its order exists.

    A checkout holds its lines in a short transaction of its own, so that the stock rows every
    buyer of a product writes stay locked for one statement only, then writes its order in
    another; the order's transaction deletes the holds (`reservations.keep`), which makes them
    the order's reservation. Holds left by a checkout that failed are given back by it
    (`reservations.let_go`), or, if its process died, by a periodic job once they are older than
    `STOCK_HOLD_SECONDS` (`reservations.release_stale`).
    """

    __tablename__ = "stock_holds"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "variant_id"], ["stocks.shop_id", "stocks.variant_id"], ondelete="CASCADE"
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    holder_id: Mapped[str] = mapped_column(String(32), index=True)
    shop_id: Mapped[str] = mapped_column(String(32))
    variant_id: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class StockMovement(Base):
    """One change of a stock quantity: the ledger that explains every unit."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_shop_variant_id", "shop_id", "variant_id", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    shop_id: Mapped[str] = mapped_column(String(32), ForeignKey("shops.id", ondelete="CASCADE"))
    variant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("variants.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    delta: Mapped[int] = mapped_column()
    quantity_after: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor_user_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
