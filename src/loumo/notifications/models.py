"""In-app notifications, one row per recipient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin
from loumo.core.ids import new_id


class Notification(TimestampMixin, Base):
    __tablename__ = "notifications"
    # Serves "my notifications, unread first, newest first" and the unread count.
    __table_args__ = (Index("ix_notifications_user_read_id", "user_id", "is_read", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # A foreign key by table name only: notifications take recipients as ids and never import
    # accounts; a user's notifications go with the user.
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link_type: Mapped[str | None] = mapped_column(String(40), default=None)
    link_id: Mapped[str | None] = mapped_column(String(64), default=None)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
