"""The demo FAQ (French and English, in `demo_faq.json`) and the customer service phone
(`loumo seed --demo`); idempotent: a topic already there (by slug) is left as it is, a phone
already set is kept."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.content.models import FaqEntry, FaqTopic, StoredSetting
from loumo.content.registry import CONTACT_PHONE

DEMO_CONTACT_PHONE = "+237 222 22 00 00"


def _demo_faq() -> list[dict[str, Any]]:
    """The demo topics of `demo_faq.json`: each topic's columns, and its `entries` (each
    entry's columns), in order."""
    path = resources.files("loumo.content").joinpath("demo_faq.json")
    topics: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return topics


async def seed_content(session: AsyncSession) -> int:
    """Add the demo FAQ topics missing (with their entries, published) and the contact phone
    when none is set; returns how many topics were created."""
    existing = set(await session.scalars(select(FaqTopic.slug)))
    made = 0
    for position, demo in enumerate(_demo_faq()):
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
