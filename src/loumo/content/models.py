"""FAQ topics and entries, and the stored values of business settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin, utcnow
from loumo.core.ids import new_id


class FaqTopic(TimestampMixin, Base):
    """A group of FAQ entries ("Livraison", "Paiement"), shown by position."""

    __tablename__ = "faq_topics"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title_fr: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(default=0)
    is_published: Mapped[bool] = mapped_column(default=False)


class FaqEntry(TimestampMixin, Base):
    """One question and its answer, in French and English, within a topic."""

    __tablename__ = "faq_entries"
    __table_args__ = (Index("ix_faq_entries_topic_id_position", "topic_id", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    topic_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("faq_topics.id", ondelete="RESTRICT")
    )
    question_fr: Mapped[str] = mapped_column(String(500))
    question_en: Mapped[str] = mapped_column(String(500), default="")
    answer_fr: Mapped[str] = mapped_column(Text)
    answer_en: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    is_published: Mapped[bool] = mapped_column(default=False)


class StoredSetting(Base):
    """The value staff gave a known setting (`registry.py`); no row means its default."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL")
    )
