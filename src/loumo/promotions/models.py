"""Promotion codes, what they apply to, and the redemptions counted by paid orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin, utcnow
from loumo.core.ids import new_id

KINDS = ("percentage", "fixed")
SCOPES = ("all", "categories", "products", "shops")


class Promotion(TimestampMixin, Base):
    """A promo code. `code` is stored upper-cased, so codes are case-insensitive and unique."""

    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint("kind IN ('percentage', 'fixed')", name="kind_known"),
        CheckConstraint("scope IN ('all', 'categories', 'products', 'shops')", name="scope_known"),
        CheckConstraint(
            "(kind = 'percentage' AND value BETWEEN 1 AND 100) OR (kind = 'fixed' AND value > 0)",
            name="value_in_range",
        ),
        CheckConstraint("uses_count >= 0", name="uses_non_negative"),
        CheckConstraint("max_uses IS NULL OR uses_count <= max_uses", name="uses_within_max"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3), default="XAF")
    min_order_amount: Mapped[int | None] = mapped_column(default=None)
    scope: Mapped[str] = mapped_column(String(16), default="all")
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    max_uses: Mapped[int | None] = mapped_column(default=None)
    max_uses_per_customer: Mapped[int | None] = mapped_column(default=None)
    uses_count: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)


class PromotionTarget(Base):
    """One category, product or shop a scoped promotion applies to."""

    __tablename__ = "promotion_targets"
    __table_args__ = (UniqueConstraint("promotion_id", "target_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    promotion_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("promotions.id", ondelete="CASCADE")
    )
    target_id: Mapped[str] = mapped_column(String(32))


class PromotionRedemption(Base):
    """A use of a promotion by a paid order; one per order."""

    __tablename__ = "promotion_redemptions"
    __table_args__ = (
        UniqueConstraint("promotion_id", "order_id"),
        Index("ix_promotion_redemptions_promotion_id_user_id", "promotion_id", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    promotion_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("promotions.id", ondelete="CASCADE")
    )
    # RESTRICT: a redemption records money given away; the user who had it cannot vanish.
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="RESTRICT"))
    order_id: Mapped[str] = mapped_column(String(32))
    discount: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
