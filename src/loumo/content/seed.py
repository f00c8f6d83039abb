"""The demo FAQ (French and English, in `demo_faq.json`) and the customer service phone
(`loumo seed --demo`); idempotent: a topic already there (by slug) is left as it is, a phone
already set is kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.content.models import FaqEntry, FaqTopic, StoredSetting
from loumo.content.registry import CONTACT_PHONE
from loumo.core.data_files import read_data

DEMO_CONTACT_PHONE = "+237 222 22 00 00"


async def seed_content(session: AsyncSession) -> int:
    """Add the demo FAQ topics missing (with their entries, published) and the contact phone
    when none is set; returns how many topics were created."""
    existing = set(await session.scalars(select(FaqTopic.slug)))
    made = 0
    # each topic's columns, and its `entries` (each entry's columns), in order
    demos: list[dict[str, Any]] = read_data("loumo.content", "demo_faq.json")
    for position, demo in enumerate(demos):
        entries = demo.pop("entries")
        if demo["slug"] in existing:
            continue
        topic = FaqTopic(**demo, position=position, is_published=True)
        session.add(topic)
        await session.flush()
        session.add_all(
            FaqEntry(**entry, topic_id=topic.id, position=index, is_published=True)
            for index, entry in enumerate(entries)
        )
        made += 1
    if await session.get(StoredSetting, CONTACT_PHONE.key) is None:
        session.add(
            StoredSetting(key=CONTACT_PHONE.key, value=CONTACT_PHONE.dump(DEMO_CONTACT_PHONE))
        )
    await session.flush()
    return made
