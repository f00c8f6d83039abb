"""Notification I/O."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from loumo.core.pagination import Page
from loumo.core.schemas import Read


class NotificationKind(StrEnum):
    ORDER = "order"
    PAYMENT = "payment"
    STOCK = "stock"
    DELIVERY = "delivery"
    ACCOUNT = "account"


class Severity(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    CRITICAL = "critical"


class Link(BaseModel):
    """The entity a notification is about, e.g. `{"type": "order", "id": "..."}`."""

    type: str = Field(max_length=40)
    id: str = Field(max_length=64)


class NotificationRead(Read):
    id: str
    kind: NotificationKind
    severity: Severity
    title: str
    body: str
    link: Link | None
    read: bool
    read_at: datetime | None
    created_at: datetime


class NotificationPage(Page[NotificationRead]):
    """Unread first, newest first; `unread_count` covers all pages."""

    unread_count: int


class ReadAllResult(BaseModel):
    updated: int
    unread_count: int
