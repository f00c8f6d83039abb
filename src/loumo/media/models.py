"""Stored images: one row per content hash, counted references from the objects that use it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin


class MediaFile(TimestampMixin, Base):
    """An uploaded image, stored once per content hash with its renditions.

    `reference_count` counts the owning objects (products, shops, users, delivery proofs...)
    that use it; `updated_at` moves whenever it is uploaded again or its count changes, so that
    the collector deletes only files that have been unreferenced for a grace period.
    """

    __tablename__ = "media_files"
    __table_args__ = (
        CheckConstraint("reference_count >= 0", name="reference_count_non_negative"),
        Index("ix_media_files_unreferenced", "reference_count", "updated_at"),
    )

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    # {"original": {"key", "content_type", "width", "height", "bytes"}, "160": {...}, ...}
    renditions: Mapped[dict[str, Any]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(20))
    # A user id from `accounts`; no foreign key, since media sits below accounts.
    uploaded_by: Mapped[str | None] = mapped_column(String(32))
    reference_count: Mapped[int] = mapped_column(default=0)
