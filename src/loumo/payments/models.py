"""Payments, their refunds, and the provider notifications received (stored once each)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin, partial_unique_index, utcnow
from loumo.core.ids import new_id
from loumo.payments.states import PaymentStatus, RefundStatus


class Payment(TimestampMixin, Base):
    """One attempt to pay an order, with one provider."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_order_id_created_at", "order_id", "created_at"),
        Index("ix_payments_status_next_check_at", "status", "next_check_at"),
        # At most one attempt under way per order: a second one would risk a second charge.
        partial_unique_index(
            "uq_payments_order_id_in_flight",
            "order_id",
            where="status IN ('pending', 'processing')",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    user_id: Mapped[str] = mapped_column(String(32), index=True)  # the order's customer
    method: Mapped[str] = mapped_column(String(16))  # mobile_money | card | cash
    provider: Mapped[str] = mapped_column(String(16))  # pawapay | stripe | cash
    # Ours, a UUIDv4, stored before the provider is called: pawaPay's depositId, Stripe's
    # idempotency key.
    reference: Mapped[str] = mapped_column(String(36), unique=True)
    provider_payment_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    operator: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(24), default=PaymentStatus.PENDING.value)
    failure_code: Mapped[str | None] = mapped_column(String(64), default=None)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    client_secret: Mapped[str | None] = mapped_column(String(200), default=None)  # Stripe
    refunded_amount: Mapped[int] = mapped_column(Integer, default=0)
    # Money the order could not take (already paid, cancelled, expired): refunded on its own.
    unclaimed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    collected_by: Mapped[str | None] = mapped_column(String(32), default=None)  # cash
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # status checks so far
    next_check_at: Mapped[datetime | None] = mapped_column(default=None)
    settled_at: Mapped[datetime | None] = mapped_column(default=None)


class Refund(TimestampMixin, Base):
    """Money given back on a payment: by staff, for a cancelled order, a short line, or money
    the order could not take."""

    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    payment_id: Mapped[str] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    reference: Mapped[str] = mapped_column(String(36), unique=True)  # pawaPay's refundId
    provider_refund_id: Mapped[str | None] = mapped_column(String(64), default=None)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(
        String(32)
    )  # staff | order_cancelled | line_short | unclaimed
    # At most one automatic refund per cause (e.g. "order.cancelled:<payment id>").
    cause: Mapped[str | None] = mapped_column(String(120), unique=True, default=None)
    # An unclaimed payment's refund gives back money the order never counted.
    applies_to_order: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PENDING.value)
    failure_code: Mapped[str | None] = mapped_column(String(64), default=None)
    created_by: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class WebhookEvent(Base):
    """A provider notification, stored once (unique on provider + event id), then processed
    as a job."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # deposit | refund
    reference: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
