"""Agents, deliveries and the cash agents hand in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin, utcnow
from loumo.core.ids import new_id


class DeliveryAgent(TimestampMixin, Base):
    """A user's agent profile: the zones they serve, how many deliveries they carry at most.

    `active` counts the deliveries assigned and not yet closed; it only moves through one
    conditional UPDATE (`dispatch.take_capacity`), so it never passes `max_deliveries`.
    """

    __tablename__ = "delivery_agents"
    __table_args__ = (
        CheckConstraint("active >= 0", name="active_non_negative"),
        CheckConstraint("max_deliveries >= 0", name="max_deliveries_non_negative"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), unique=True)
    zone_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_deliveries: Mapped[int] = mapped_column(default=5)
    available: Mapped[bool] = mapped_column(default=True)
    vehicle: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[int] = mapped_column(default=0)
    last_assigned_at: Mapped[datetime | None] = mapped_column(default=None)


class Delivery(TimestampMixin, Base):
    """One attempt to bring a fulfilment (a shop's lines of an order) to its customer.

    `live_fulfilment_id` is the fulfilment's id while the delivery counts (assigned, out,
    failed, delivered) and NULL once cancelled: its unique constraint keeps one such delivery
    per fulfilment. The closing code is never stored: `code_issue` is the counter it is derived
    from, `code_tries` the wrong tries (at most `codes.MAX_TRIES`).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("code_tries >= 0", name="code_tries_non_negative"),
        Index("ix_deliveries_agent_id_status", "agent_id", "status"),
        Index("ix_deliveries_priority_due_at_id", "priority", "due_at", "id"),
        Index("ix_deliveries_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    fulfilment_id: Mapped[str] = mapped_column(
        ForeignKey("fulfilments.id", ondelete="CASCADE"), index=True
    )
    live_fulfilment_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    shop_id: Mapped[str] = mapped_column(String(32), index=True)
    zone_id: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[str] = mapped_column(ForeignKey("delivery_agents.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default="assigned")
    # Whether this delivery holds one unit of its agent's capacity (assigned or out).
    holds_capacity: Mapped[bool] = mapped_column(default=True)
    priority: Mapped[int] = mapped_column(default=0)
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    # When it is due: `scheduled_at`, else when it was assigned (the agents' lists sort on it).
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by: Mapped[str | None] = mapped_column(String(32), default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    eta: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_at: Mapped[datetime | None] = mapped_column(default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(20), default=None)
    failure_note: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    code_issue: Mapped[int] = mapped_column(default=0)
    code_issued_at: Mapped[datetime | None] = mapped_column(default=None)
    code_tries: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="XAF")
    cash_due: Mapped[int] = mapped_column(default=0)
    cash_collected: Mapped[int] = mapped_column(default=0)
    proof_photo_key: Mapped[str | None] = mapped_column(String(200), default=None)
    proof_signature_key: Mapped[str | None] = mapped_column(String(200), default=None)


class CashHandIn(Base):
    """Cash an agent handed in to staff."""

    __tablename__ = "agent_cash_handins"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_agent_cash_handins_agent_id_created_at", "agent_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agent_id: Mapped[str] = mapped_column(ForeignKey("delivery_agents.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    received_by: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
