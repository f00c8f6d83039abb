"""The FAQ: staff write topics and entries (FR/EN, ordered, published or not); everyone reads
the published ones; content staff see drafts; bad input is a 422 and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.content.models import FaqEntry, FaqTopic
from tests.conftest import AuthHeaders
from tests.content.conftest import API, make_entry, make_topic


def questions(page: dict[str, Any]) -> list[str]:
    assert page["next_cursor"] is None
    return [e["question_fr"] for e in page["items"]]


async def test_the_public_reads_published_topics_and_entries_in_order(
    client: httpx.AsyncClient, editor: dict[str, str], proofreader: dict[str, str]
) -> None:
    delivery = await make_topic(client, editor, "livraison", title_en="Delivery", position=2)
    payment = await make_topic(client, editor, "paiement", title_en="Payment", position=1)
    draft = await make_topic(client, editor, "brouillon", is_published=False)
    await make_entry(client, editor, delivery["id"], "Quand ?", position=2)
    await make_entry(
        client, editor, delivery["id"], "Où ?", position=1, question_en="Where?", answer_en="Here"
    )
    await make_entry(client, editor, delivery["id"], "Pas encore ?", is_published=False)
    await make_entry(client, editor, payment["id"], "Comment payer ?")
    await make_entry(client, editor, draft["id"], "Secret ?")

    topics = (await client.get(f"{API}/faq/topics")).json()
    assert [t["slug"] for t in topics["items"]] == ["paiement", "livraison"]
    assert topics["items"][1]["title_en"] == "Delivery" and topics["next_cursor"] is None
    assert questions((await client.get(f"{API}/faq")).json()) == [
        "Comment payer ?",
        "Où ?",
        "Quand ?",
    ]
    by_slug = (await client.get(f"{API}/faq", params={"topic": "livraison"})).json()
    assert questions(by_slug) == ["Où ?", "Quand ?"]
    assert by_slug["items"][0]["question_en"] == "Where?"
    assert by_slug["items"][0]["answer_en"] == "Here"
    by_id = (await client.get(f"{API}/faq", params={"topic": delivery["id"]})).json()
    assert by_id == by_slug

    # Drafts (and every entry of a draft topic) are hidden from the public: 404, not 403.
    assert (await client.get(f"{API}/faq/topics/{draft['id']}")).status_code == 404
    assert (await client.get(f"{API}/faq", params={"topic": "brouillon"})).status_code == 404
    secret = await client.get(f"{API}/faq", params={"topic": "brouillon"}, headers=editor)
    assert questions(secret.json()) == ["Secret ?"]
    seen = (await client.get(f"{API}/faq", headers=proofreader)).json()
    assert len(seen["items"]) == 5
    assert len((await client.get(f"{API}/faq/topics", headers=proofreader)).json()["items"]) == 3
    assert questions(seen)[:3] == ["Secret ?", "Comment payer ?", "Pas encore ?"]
    hidden = seen["items"][2]["id"]
    assert (await client.get(f"{API}/faq/{hidden}")).status_code == 404
    assert (await client.get(f"{API}/faq/{hidden}", headers=proofreader)).status_code == 200
    assert (await client.get(f"{API}/faq/topics/nope")).status_code == 404
    assert (await client.get(f"{API}/faq", params={"topic": "nope"})).status_code == 404


async def test_public_reads_are_cacheable(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    await make_topic(client, editor, "aide")
    first = await client.get(f"{API}/faq/topics")
    assert first.headers["cache-control"] == "public, max-age=60"
    again = await client.get(f"{API}/faq/topics", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    staff = await client.get(f"{API}/faq", headers=editor)
    assert staff.headers["cache-control"] == "private, max-age=0"


async def test_staff_reorder_publish_move_and_delete(
    client: httpx.AsyncClient, editor: dict[str, str], db: AsyncSession
) -> None:
    one = await make_topic(client, editor, "un")
    two = await make_topic(client, editor, "deux", position=5)
    first = await make_entry(client, editor, one["id"], "Première ?")
    second = await make_entry(client, editor, one["id"], "Seconde ?", position=1)

    moved = await client.patch(f"{API}/faq/{second['id']}", json={"position": 0}, headers=editor)
    assert moved.status_code == 200
    await client.patch(f"{API}/faq/{first['id']}", json={"position": 3}, headers=editor)
    assert questions((await client.get(f"{API}/faq")).json()) == ["Seconde ?", "Première ?"]

    retitled = await client.patch(
        f"{API}/faq/topics/{two['id']}",
        json={"position": 0, "title_en": "Two", "is_published": False},
        headers=editor,
    )
    assert retitled.status_code == 200
    assert retitled.json()["title_en"] == "Two" and retitled.json()["is_published"] is False
    public = (await client.get(f"{API}/faq/topics")).json()["items"]
    assert [t["slug"] for t in public] == ["un"]

    elsewhere = await client.patch(
        f"{API}/faq/{first['id']}", json={"topic_id": two["id"]}, headers=editor
    )
    assert elsewhere.status_code == 200 and elsewhere.json()["topic_id"] == two["id"]

    full = await client.delete(f"{API}/faq/topics/{one['id']}", headers=editor)
    assert full.status_code == 409 and full.json()["code"] == "topic_not_empty"
    assert (await client.delete(f"{API}/faq/{second['id']}", headers=editor)).status_code == 204
    assert (await client.delete(f"{API}/faq/{second['id']}", headers=editor)).status_code == 404
    assert (await client.delete(f"{API}/faq/topics/{one['id']}", headers=editor)).status_code == 204
    assert await db.scalar(select(func.count()).select_from(FaqTopic)) == 1
    assert await db.scalar(select(func.count()).select_from(FaqEntry)) == 1


async def test_bad_faq_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, editor: dict[str, str], db: AsyncSession
) -> None:
    topic = await make_topic(client, editor, "aide")
    entry = await make_entry(client, editor, topic["id"], "Question ?")
    for body in (
        {"slug": "Pas Un Slug", "title_fr": "X"},
        {"slug": "ok", "title_fr": "   "},
        {"slug": "ok", "title_fr": "X", "position": -1},
        {"slug": "ok", "title_fr": "X", "colour": "red"},
        {"title_fr": "X"},
    ):
        response = await client.post(f"{API}/faq/topics", json=body, headers=editor)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    taken = await client.post(
        f"{API}/faq/topics", json={"slug": "aide", "title_fr": "Encore"}, headers=editor
    )
    assert taken.status_code == 409 and taken.json()["field"] == "slug"
    other = await make_topic(client, editor, "autre")
    renamed = await client.patch(
        f"{API}/faq/topics/{other['id']}", json={"slug": "aide"}, headers=editor
    )
    assert renamed.status_code == 409

    unknown = await client.post(
        f"{API}/faq",
        json={"topic_id": "nope", "question_fr": "Q", "answer_fr": "R"},
        headers=editor,
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_topic"
    nowhere = await client.patch(
        f"{API}/faq/{entry['id']}", json={"topic_id": "nope"}, headers=editor
    )
    assert nowhere.status_code == 400 and nowhere.json()["field"] == "topic_id"
    nulls = await client.patch(
        f"{API}/faq/{entry['id']}", json={"answer_fr": None, "position": None}, headers=editor
    )
    assert nulls.status_code == 422
    assert sorted(e["field"] for e in nulls.json()["errors"]) == ["answer_fr", "position"]
    assert {e["type"] for e in nulls.json()["errors"]} == {"null_not_allowed"}
    topic_null = await client.patch(
        f"{API}/faq/topics/{topic['id']}", json={"title_fr": None}, headers=editor
    )
    assert topic_null.status_code == 422

    assert (await client.get(f"{API}/faq/{entry['id']}")).json() == entry
    assert await db.scalar(select(func.count()).select_from(FaqTopic)) == 2
    assert await db.scalar(select(func.count()).select_from(FaqEntry)) == 1


async def test_only_content_writers_write(
    client: httpx.AsyncClient,
    editor: dict[str, str],
    proofreader: dict[str, str],
    auth_headers: AuthHeaders,
) -> None:
    topic = await make_topic(client, editor, "aide")
    customer = await auth_headers("customer000000000000000000000001")
    body = {"slug": "x", "title_fr": "X"}
    assert (await client.post(f"{API}/faq/topics", json=body)).status_code == 401
    assert (await client.post(f"{API}/faq/topics", json=body, headers=customer)).status_code == 403
    assert (
        await client.post(f"{API}/faq/topics", json=body, headers=proofreader)
    ).status_code == 403
    patch = await client.patch(
        f"{API}/faq/topics/{topic['id']}", json={"title_fr": "Y"}, headers=proofreader
    )
    assert patch.status_code == 403
