"""Orders: one checkout and one payment; a fulfilment per shop; frozen items; a timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin, utcnow
from loumo.core.ids import new_id


class Order(TimestampMixin, Base):
    """One checkout: amounts frozen at placing, the delivery snapshot, and two statuses.

    `status` is the lifecycle (see `orders/states.py`), `payment_status` the money. Amounts are
    in minor units of `currency`: `total = subtotal - discount + delivery_fee` (less what a
    shop was short of, on a cash order).
    """

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_non_negative"),
        CheckConstraint("refunded >= 0 AND refunded <= paid_amount", name="refunded_within_paid"),
        Index("ix_orders_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_orders_created_at_id", "created_at", "id"),
        Index("ix_orders_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20))
    payment_status: Mapped[str] = mapped_column(String(20), default="unpaid")
    payment_method: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column()
    discount: Mapped[int] = mapped_column(default=0)
    delivery_fee: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column()
    paid_amount: Mapped[int] = mapped_column(default=0)
    refunded: Mapped[int] = mapped_column(default=0)
    promotion_id: Mapped[str | None] = mapped_column(
        ForeignKey("promotions.id", ondelete="SET NULL"), default=None
    )
    promo_code: Mapped[str | None] = mapped_column(String(40), default=None)
    # The delivery snapshot: the address as it was, its zone, and who to call.
    address_id: Mapped[str | None] = mapped_column(
        ForeignKey("addresses.id", ondelete="SET NULL"), default=None
    )
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.id", ondelete="RESTRICT"), index=True)
    delivery_address: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact_phone: Mapped[str] = mapped_column(String(32))
    payment_in_flight: Mapped[bool] = mapped_column(default=False)
    paid_payment_id: Mapped[str | None] = mapped_column(String(64), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set once, by the conditional UPDATE that gives stock and the promotion use back.
    released_at: Mapped[datetime | None] = mapped_column(default=None)


class Fulfilment(TimestampMixin, Base):
    """One shop's lines of an order: prepared by that shop, delivered once, with one fee."""

    __tablename__ = "fulfilments"
    __table_args__ = (
        UniqueConstraint("order_id", "shop_id"),
        Index("ix_fulfilments_shop_id_status", "shop_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    subtotal: Mapped[int] = mapped_column()
    discount: Mapped[int] = mapped_column(default=0)
    delivery_fee: Mapped[int] = mapped_column(default=0)
    # Stock of its lines became a sale (cash: the shop accepted; prepaid: the money is in).
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    # Its sold units went back on the shelf (a refused or abandoned delivery), once.
    returned_at: Mapped[datetime | None] = mapped_column(default=None)


class OrderItem(Base):
    """A line, frozen at checkout: what, from which shop, at what price, and what became of it."""

    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "short_quantity >= 0 AND refunded_quantity >= 0 "
            "AND short_quantity <= quantity AND refunded_quantity <= quantity",
            name="quantities_within_line",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    fulfilment_id: Mapped[str] = mapped_column(
        ForeignKey("fulfilments.id", ondelete="CASCADE"), index=True
    )
    shop_id: Mapped[str] = mapped_column(String(32))
    variant_id: Mapped[str] = mapped_column(ForeignKey("variants.id", ondelete="RESTRICT"))
    product_id: Mapped[str] = mapped_column(String(32))
    name_fr: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    sku: Mapped[str] = mapped_column(String(80), default="")
    unit_price: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    line_total: Mapped[int] = mapped_column()
    discount_share: Mapped[int] = mapped_column(default=0)
    short_quantity: Mapped[int] = mapped_column(default=0)
    refunded_quantity: Mapped[int] = mapped_column(default=0)
    refunded_amount: Mapped[int] = mapped_column(default=0)


class OrderEvent(Base):
    """The timeline: who moved what (the order or one fulfilment) from where to where, and why."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_id_id", "order_id", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    fulfilment_id: Mapped[str | None] = mapped_column(String(32), default=None)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[str | None] = mapped_column(String(32), default=None)
    actor_kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20), default=None)
    to_status: Mapped[str | None] = mapped_column(String(20), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderRefund(Base):
    """A refund the order has taken into account: one row per refund id, so applying is once."""

    __tablename__ = "order_refunds"

    refund_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    amount: Mapped[int] = mapped_column()
    full: Mapped[bool] = mapped_column(default=False)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
