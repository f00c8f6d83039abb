"""Every content route, as every kind of caller (the callers of the accounts matrix), with the
expected status: drafts and private settings are 404 to those who may not see them, writes are
for `content:write` and `settings:write` holders (support reads drafts and private settings)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.content.models import FaqEntry, FaqTopic
from tests.accounts.test_access_matrix import CALLERS, ROLE_OF, Case, _fill, everyone
from tests.factories import auth_headers, create_user

API = "/api/v1"


def writer(status: int) -> tuple[int, ...]:
    return (401, 403, 403, 403, 403, 403, status)


def reader(status: int) -> tuple[int, ...]:
    return (404, 404, 404, 404, 404, status, status)


CASES = [
    Case("GET", "/faq/topics", None, everyone(200)),
    Case("POST", "/faq/topics", {"slug": "matrix", "title_fr": "M"}, writer(201)),
    Case("GET", "/faq/topics/{topic}", None, everyone(200)),
    Case("GET", "/faq/topics/{draft_topic}", None, reader(200)),
    Case("PATCH", "/faq/topics/{topic}", {"title_en": "Help"}, writer(200)),
    Case("DELETE", "/faq/topics/{draft_topic}", None, writer(204)),
    Case("GET", "/faq", None, everyone(200)),
    Case(
        "POST",
        "/faq",
        {"topic_id": "{topic}", "question_fr": "Q ?", "answer_fr": "R."},
        writer(201),
    ),
    Case("GET", "/faq/{entry}", None, everyone(200)),
    Case("GET", "/faq/{draft_entry}", None, reader(200)),
    Case("PATCH", "/faq/{entry}", {"position": 3}, writer(200)),
    Case("DELETE", "/faq/{entry}", None, writer(204)),
    Case("GET", "/settings", None, everyone(200)),
    Case("GET", "/settings/contact_phone", None, everyone(200)),
    Case("GET", "/settings/order_payment_timeout", None, reader(200)),
    Case("PUT", "/settings/contact_phone", {"value": "+237 650 00 00 00"}, writer(200)),
    Case("DELETE", "/settings/contact_phone", None, writer(204)),
]

PATHS = {
    "{topic}": "{topic_id}",
    "{draft_topic}": "{topic_id}",
    "{entry}": "{entry_id}",
    "{draft_entry}": "{entry_id}",
    "contact_phone": "{key}",
    "order_payment_timeout": "{key}",
}


def test_the_matrix_covers_every_content_route(app: FastAPI) -> None:
    mine = {
        (method, (context.path or "").removeprefix(API))
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        and route.endpoint.__module__ == "loumo.content.router"
        for method in route.methods or ()
    }
    covered = set()
    for case in CASES:
        path = case.path
        for concrete, declared in PATHS.items():
            path = path.replace(concrete, declared)
        covered.add((case.method, path))
    assert mine == covered


@pytest.mark.parametrize("caller_index", range(len(CALLERS)), ids=CALLERS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.path}" for c in CASES])
async def test_access(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, case: Case, caller_index: int
) -> None:
    users = {name: await create_user(db, role) for name, role in ROLE_OF.items()}
    topic = FaqTopic(slug="aide", title_fr="Aide", is_published=True)
    draft_topic = FaqTopic(slug="brouillon", title_fr="Brouillon")
    db.add_all([topic, draft_topic])
    await db.flush()
    entry = FaqEntry(topic_id=topic.id, question_fr="Q ?", answer_fr="R.", is_published=True)
    draft_entry = FaqEntry(topic_id=topic.id, question_fr="Pas encore ?", answer_fr="R.")
    db.add_all([entry, draft_entry])
    await db.commit()
    ids = {
        "topic": topic.id,
        "draft_topic": draft_topic.id,
        "entry": entry.id,
        "draft_entry": draft_entry.id,
    }

    caller = CALLERS[caller_index]
    headers = {} if caller == "anonymous" else await auth_headers(app, users[caller])
    response = await client.request(
        case.method, API + _fill(case.path, ids), headers=headers, json=_fill(case.body, ids)
    )
    assert response.status_code == case.expected[caller_index], response.text
