"""Notifications: record in-app notices and defer their emails in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.core.errors import NotFound
from loumo.core.once import rowcount
from loumo.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from loumo.core.writes import insert_new
from loumo.notifications.email import LANGUAGES, send_email
from loumo.notifications.models import Notification
from loumo.notifications.schemas import (
    Link,
    NotificationKind,
    NotificationPage,
    NotificationRead,
    Severity,
)

Text = str | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who gets a notification, as resolved by the caller (notifications never read accounts)."""

    user_id: str
    email: str | None = None
    name: str | None = None
    language: str = "fr"


def _localised(text: Text, language: str) -> str:
    if isinstance(text, str):
        return text
    return text.get(language) or text.get("fr") or text.get("en") or next(iter(text.values()))


async def notify(
    session: AsyncSession,
    *,
    recipients: Sequence[Recipient],
    kind: NotificationKind | str,
    severity: Severity | str,
    title: Text,
    body: Text,
    link: Link | None = None,
    email_template: str | None = None,
    email_context: dict[str, Any] | None = None,
) -> list[Notification]:
    """Record one in-app notification per recipient and, with `email_template`, defer an email
    to each recipient that has an address. `title`/`body` may be one string or one per language.
    Nothing exists unless the caller commits."""
    kind = NotificationKind(kind)
    severity = Severity(severity)
    created: list[Notification] = []
    seen: set[str] = set()
    for recipient in recipients:
        if recipient.user_id in seen:
            continue
        seen.add(recipient.user_id)
        language = recipient.language if recipient.language in LANGUAGES else "fr"
        notification = Notification(
            user_id=recipient.user_id,
            kind=kind.value,
            severity=severity.value,
            title=_localised(title, language)[:200],
            body=_localised(body, language),
            link_type=link.type if link else None,
            link_id=link.id if link else None,
            is_read=False,
        )
        created.append(notification)
        if email_template and recipient.email:
            await send_email(
                session,
                to=recipient.email,
                to_name=recipient.name,
                template=email_template,
                language=language,
                context={"name": recipient.name or "", **(email_context or {})},
            )
    await session.flush()
    await insert_new(session, created)
    return created


def to_read(notification: Notification) -> NotificationRead:
    link = (
        Link(type=notification.link_type, id=notification.link_id)
        if notification.link_type and notification.link_id
        else None
    )
    return NotificationRead(
        id=notification.id,
        kind=NotificationKind(notification.kind),
        severity=Severity(notification.severity),
        title=notification.title,
        body=notification.body,
        link=link,
        read=notification.is_read,
        read_at=notification.read_at,
        created_at=notification.created_at,
    )


async def unread_count(session: AsyncSession, user_id: str) -> int:
    value = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.is_read.is_(False))
    )
    return int(value or 0)


async def list_notifications(
    session: AsyncSession, user_id: str, *, cursor: str | None, limit: int
) -> NotificationPage:
    """The user's notifications, unread first, then newest first (keyset on is_read, id)."""
    query = select(Notification).where(Notification.user_id == user_id)
    after = decode_cursor(cursor)
    if after is not None:
        read, last_id = after.get("r"), after.get("id")
        if not isinstance(read, bool) or not isinstance(last_id, str):
            raise InvalidCursor("The cursor is not one this API issued")
        same_group = and_(Notification.is_read.is_(read), Notification.id < last_id)
        # Unread rows come first: after an unread one, every read row still follows.
        query = query.where(
            or_(Notification.is_read.is_(True), same_group) if not read else same_group
        )
    rows = list(
        await session.scalars(
            query.order_by(Notification.is_read.asc(), Notification.id.desc()).limit(limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor({"r": last.is_read, "id": last.id})
    return NotificationPage(
        items=[to_read(n) for n in rows],
        next_cursor=next_cursor,
        unread_count=await unread_count(session, user_id),
    )


async def _get_own(session: AsyncSession, user_id: str, notification_id: str) -> Notification:
    """The user's notification; someone else's looks exactly like a missing one."""
    notification = await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )
    if notification is None:
        raise NotFound("No such notification")
    return notification


async def mark_read(session: AsyncSession, user_id: str, notification_id: str) -> NotificationRead:
    notification = await _get_own(session, user_id, notification_id)
    if not notification.is_read:
        notification.is_read = True
        notification.read_at = utcnow()
        await session.flush()
    return to_read(notification)


async def mark_all_read(session: AsyncSession, user_id: str) -> int:
    now = utcnow()
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.is_read.is_(False))
        .values(is_read=True, read_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)
