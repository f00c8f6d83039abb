"""The FAQ: topics and their entries, in French and English, ordered by position.

Everyone reads published topics and the published entries of published topics; staff holding
`content:read` (or `content:write`) see unpublished ones too. Staff holding `content:write`
create, change (publish, reorder by `position`, move an entry to another topic) and delete.
The FAQ is small: lists answer one page (`next_cursor` is null), topics by position then slug,
entries by their topic's position, then position, then id.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.content.models import FaqEntry, FaqTopic
from loumo.content.schemas import (
    FaqEntryCreate,
    FaqEntryRead,
    FaqEntryUpdate,
    FaqTopicCreate,
    FaqTopicRead,
    FaqTopicUpdate,
)
from loumo.core.db import flush_or_conflict, save_changes, visible
from loumo.core.errors import BadRequest, Conflict, NotFound
from loumo.core.pagination import Page
from loumo.core.unique import add_unique, save_unique_changes

T = TypeVar("T")

GONE = "The FAQ topic was deleted meanwhile"
SLUG_TAKEN = "A FAQ topic already has the slug '{}'"


class UnknownTopic(BadRequest):
    code, title = "unknown_topic", "Unknown FAQ topic"


class TopicNotEmpty(Conflict):
    code, title = "topic_not_empty", "The topic still has entries"


def _topics(*, include_unpublished: bool) -> Select[FaqTopic]:
    stmt = select(FaqTopic).order_by(FaqTopic.position, FaqTopic.slug, FaqTopic.id)
    return visible(stmt, FaqTopic.is_published, include_inactive=include_unpublished)


async def list_topics(session: AsyncSession, *, include_unpublished: bool) -> Page[FaqTopicRead]:
    topics = await session.scalars(_topics(include_unpublished=include_unpublished))
    return Page[FaqTopicRead](items=[FaqTopicRead.model_validate(t) for t in topics])


async def _one(session: AsyncSession, stmt: Select[T], missing: str) -> T:
    """The row `stmt` finds (one of `_topics` or `_entries`, so the caller may see it), else a
    404 `missing`."""
    found = await session.scalar(stmt)
    if found is None:
        raise NotFound(missing)
    return found


async def _topic(session: AsyncSession, topic_id: str, *, include_unpublished: bool) -> FaqTopic:
    stmt = _topics(include_unpublished=include_unpublished).where(FaqTopic.id == topic_id)
    return await _one(session, stmt, f"No FAQ topic {topic_id}")


async def get_topic(
    session: AsyncSession, topic_id: str, *, include_unpublished: bool
) -> FaqTopicRead:
    topic = await _topic(session, topic_id, include_unpublished=include_unpublished)
    return FaqTopicRead.model_validate(topic)


async def create_topic(session: AsyncSession, data: FaqTopicCreate) -> FaqTopicRead:
    topic = FaqTopic(**data.model_dump())
    await add_unique(session, topic, FaqTopic.slug, SLUG_TAKEN)
    await session.refresh(topic)
    return FaqTopicRead.model_validate(topic)


async def update_topic(session: AsyncSession, topic_id: str, data: FaqTopicUpdate) -> FaqTopicRead:
    topic = await _topic(session, topic_id, include_unpublished=True)
    changes = data.model_dump(exclude_unset=True)
    await save_unique_changes(session, topic, changes, FaqTopic.slug, SLUG_TAKEN)
    return FaqTopicRead.model_validate(topic)


async def delete_topic(session: AsyncSession, topic_id: str) -> None:
    """Delete an empty topic; one that still has entries is a 409 (delete or move them first,
    or unpublish the topic), so that no answer disappears by accident."""
    topic = await _topic(session, topic_id, include_unpublished=True)
    if await session.scalar(select(FaqEntry.id).where(FaqEntry.topic_id == topic.id).limit(1)):
        raise TopicNotEmpty(f"The FAQ topic {topic.slug} still has entries")
    await session.delete(topic)
    await flush_or_conflict(session, f"The FAQ topic {topic.slug} still has entries")


def _entries(*, include_unpublished: bool) -> Select[FaqEntry]:
    stmt = (
        select(FaqEntry)
        .join(FaqTopic, FaqTopic.id == FaqEntry.topic_id)
        .order_by(FaqTopic.position, FaqTopic.slug, FaqEntry.position, FaqEntry.id)
    )
    return visible(
        stmt, FaqEntry.is_published, FaqTopic.is_published, include_inactive=include_unpublished
    )


async def list_entries(
    session: AsyncSession, *, include_unpublished: bool, topic: str | None
) -> Page[FaqEntryRead]:
    """Entries the caller may see, all topics or one (`topic`: its id or its slug; a topic
    the caller may not see is a 404)."""
    stmt = _entries(include_unpublished=include_unpublished)
    if topic is not None:
        by_id_or_slug = or_(FaqTopic.id == topic, FaqTopic.slug == topic)
        found = await _one(
            session,
            _topics(include_unpublished=include_unpublished).where(by_id_or_slug),
            f"No FAQ topic {topic}",
        )
        stmt = stmt.where(FaqEntry.topic_id == found.id)
    entries = await session.scalars(stmt)
    return Page[FaqEntryRead](items=[FaqEntryRead.model_validate(e) for e in entries])


async def _entry(session: AsyncSession, entry_id: str, *, include_unpublished: bool) -> FaqEntry:
    stmt = _entries(include_unpublished=include_unpublished).where(FaqEntry.id == entry_id)
    return await _one(session, stmt, f"No FAQ entry {entry_id}")


async def get_entry(
    session: AsyncSession, entry_id: str, *, include_unpublished: bool
) -> FaqEntryRead:
    entry = await _entry(session, entry_id, include_unpublished=include_unpublished)
    return FaqEntryRead.model_validate(entry)


async def _check_topic(session: AsyncSession, topic_id: str) -> None:
    if await session.get(FaqTopic, topic_id) is None:
        raise UnknownTopic(f"No FAQ topic {topic_id}", field="topic_id")


async def create_entry(session: AsyncSession, data: FaqEntryCreate) -> FaqEntryRead:
    await _check_topic(session, data.topic_id)
    entry = FaqEntry(**data.model_dump())
    session.add(entry)
    await flush_or_conflict(session, GONE, field="topic_id")
    await session.refresh(entry)
    return FaqEntryRead.model_validate(entry)


async def update_entry(session: AsyncSession, entry_id: str, data: FaqEntryUpdate) -> FaqEntryRead:
    entry = await _entry(session, entry_id, include_unpublished=True)
    changes = data.model_dump(exclude_unset=True)
    if "topic_id" in changes and changes["topic_id"] != entry.topic_id:
        await _check_topic(session, changes["topic_id"])
    await save_changes(session, entry, changes, GONE, field="topic_id")
    return FaqEntryRead.model_validate(entry)


async def delete_entry(session: AsyncSession, entry_id: str) -> None:
    entry = await _entry(session, entry_id, include_unpublished=True)
    await session.delete(entry)
    await session.flush()
