"""`loumo seed --demo` fills the FAQ (French and English, published) and the contact phone,
once; what staff changed since is left alone."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from loumo.content.models import FaqEntry, FaqTopic
from loumo.content.seed import DEMO_CONTACT_PHONE, seed_content
from loumo.core.db import Database
from tests.content.conftest import API


async def test_the_demo_faq_and_contact_phone_once(
    app: FastAPI, client: httpx.AsyncClient, settings_staff: dict[str, str]
) -> None:
    database: Database = app.state.db
    async with database.sessionmaker() as session:
        assert await seed_content(session) == 3
        await session.commit()

    topics = (await client.get(f"{API}/faq/topics")).json()["items"]
    assert [t["slug"] for t in topics] == ["commandes", "livraison", "paiement"]
    assert all(t["title_fr"] and t["title_en"] for t in topics)
    entries = (await client.get(f"{API}/faq", params={"topic": "paiement"})).json()["items"]
    assert len(entries) == 2
    assert all(e["question_en"] and e["answer_en"] and e["answer_fr"] for e in entries)
    phone = (await client.get(f"{API}/settings/contact_phone")).json()
    assert phone["value"] == DEMO_CONTACT_PHONE and phone["is_default"] is False

    changed = await client.put(
        f"{API}/settings/contact_phone", json={"value": "+237 699 99 99 99"}, headers=settings_staff
    )
    assert changed.status_code == 200
    async with database.sessionmaker() as session:
        assert await seed_content(session) == 0
        await session.commit()
        assert await session.scalar(select(func.count()).select_from(FaqTopic)) == 3
        assert await session.scalar(select(func.count()).select_from(FaqEntry)) == 6
    kept = (await client.get(f"{API}/settings/contact_phone")).json()
    assert kept["value"] == "+237 699 99 99 99"
