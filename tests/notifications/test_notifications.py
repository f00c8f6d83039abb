"""In-app notifications: notify() in the caller's transaction, and the /me/notifications API."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.jobs.models import Job
from loumo.notifications.models import Notification
from loumo.notifications.schemas import Link
from loumo.notifications.service import Recipient, notify
from tests.conftest import AuthHeaders
from tests.factories import create_user

ALICE = Recipient(user_id="alice-0001", email="alice@example.com", name="Alice", language="en")
BOB = Recipient(user_id="bob-0002", email="bob@example.com", name="Bob", language="fr")
STAFF_NOBODY = Recipient(user_id="staff-0003")  # no address: in-app only


@pytest.fixture(autouse=True)
async def _recipients_exist(db: AsyncSession) -> None:
    """Notifications name their recipient by a foreign key to users: the users must exist."""
    for recipient in (ALICE, BOB, STAFF_NOBODY):
        await create_user(db, id=recipient.user_id)


async def test_notify_records_notices_and_defers_emails_in_the_callers_transaction(
    db: AsyncSession,
) -> None:
    await notify(
        db,
        recipients=[ALICE, BOB, STAFF_NOBODY, ALICE],
        kind="stock",
        severity="warning",
        title={"en": "Low stock", "fr": "Stock bas"},
        body={"en": "Rice is running low", "fr": "Le riz s'épuise"},
        link=Link(type="stock", id="shop-1:variant-9"),
        email_template="low_stock",
        email_context={
            "shop_name": "Mvog-Mbi",
            "product_name": "Rice",
            "available": 2,
            "threshold": 5,
            "link": "https://loumo.example/shops/1/stock",
        },
    )
    await db.commit()
    rows = {n.user_id: n for n in await db.scalars(select(Notification))}
    assert set(rows) == {ALICE.user_id, BOB.user_id, STAFF_NOBODY.user_id}  # Alice once
    assert rows[BOB.user_id].title == "Stock bas" and rows[ALICE.user_id].title == "Low stock"
    jobs = list(await db.scalars(select(Job).order_by(Job.payload["to"].as_string())))
    assert [(j.name, j.payload["to"], j.payload["language"]) for j in jobs] == [
        ("email.send", "alice@example.com", "en"),
        ("email.send", "bob@example.com", "fr"),
    ]
    assert jobs[1].payload["context"]["name"] == "Bob"
    assert jobs[1].payload["template"] == "low_stock"


async def test_notify_leaves_nothing_when_the_caller_rolls_back(db: AsyncSession) -> None:
    await notify(
        db,
        recipients=[ALICE],
        kind="account",
        severity="info",
        title="Password changed",
        body="Your password was changed",
        email_template="password_changed",
    )
    await db.rollback()
    assert await db.scalar(select(func.count()).select_from(Notification)) == 0
    assert await db.scalar(select(func.count()).select_from(Job)) == 0


async def make_notifications(db: AsyncSession, recipient: Recipient, count: int) -> list[str]:
    ids = []
    for n in range(count):
        [created] = await notify(
            db,
            recipients=[recipient],
            kind="order",
            severity="info",
            title=f"Order {n}",
            body="Your order moved",
            link=Link(type="order", id=f"order-{n}"),
        )
        ids.append(created.id)
    await db.commit()
    return ids


async def test_my_notifications_come_unread_first_paginated_with_the_unread_count(
    client: httpx.AsyncClient, db: AsyncSession, auth_headers: AuthHeaders
) -> None:
    ids = await make_notifications(db, ALICE, 5)
    await make_notifications(db, BOB, 2)
    headers = await auth_headers(ALICE.user_id)
    read = await client.post(f"/api/v1/me/notifications/{ids[3]}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read"] is True

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/api/v1/me/notifications", params=params, headers=headers)
        assert page.status_code == 200
        body = page.json()
        assert body["unread_count"] == 4
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    # Unread newest first (ids are time-ordered), then the read one.
    assert seen == [*sorted([ids[0], ids[1], ids[2], ids[4]], reverse=True), ids[3]]
    first = (await client.get("/api/v1/me/notifications", headers=headers)).json()["items"][0]
    assert first["id"] == seen[0] and first["kind"] == "order"
    assert first["link"] == {"type": "order", "id": f"order-{ids.index(seen[0])}"}

    done = await client.post("/api/v1/me/notifications/read-all", headers=headers)
    assert done.json() == {"updated": 4, "unread_count": 0}
    after = (await client.get("/api/v1/me/notifications", headers=headers)).json()
    assert after["unread_count"] == 0 and all(item["read"] for item in after["items"])
    bob = (
        await client.get("/api/v1/me/notifications", headers=await auth_headers(BOB.user_id))
    ).json()
    assert bob["unread_count"] == 2  # untouched by Alice's read-all


async def test_nobody_reads_or_marks_someone_elses_notifications(
    client: httpx.AsyncClient, db: AsyncSession, auth_headers: AuthHeaders
) -> None:
    [alices] = await make_notifications(db, ALICE, 1)
    bob = await auth_headers(BOB.user_id)
    listed = await client.get("/api/v1/me/notifications", headers=bob)
    assert listed.json() == {"items": [], "next_cursor": None, "unread_count": 0}
    stolen = await client.post(f"/api/v1/me/notifications/{alices}/read", headers=bob)
    missing = await client.post("/api/v1/me/notifications/nope/read", headers=bob)
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json()["code"] == "not_found"
    assert stolen.json()["detail"] == missing.json()["detail"]
    db.expire_all()
    assert (await db.get(Notification, alices)).is_read is False  # type: ignore[union-attr]


async def test_anonymous_callers_and_bad_input_get_problem_documents(
    client: httpx.AsyncClient, auth_headers: AuthHeaders
) -> None:
    anonymous = await client.get("/api/v1/me/notifications")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert (await client.post("/api/v1/me/notifications/read-all")).status_code == 401
    headers = await auth_headers(ALICE.user_id)
    bad_cursor = await client.get(
        "/api/v1/me/notifications", params={"cursor": "garbage!"}, headers=headers
    )
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "invalid_cursor"
    forged = await client.get(
        "/api/v1/me/notifications", params={"cursor": "eyJyIjoieCJ9"}, headers=headers
    )
    assert forged.status_code == 400
    too_many = await client.get("/api/v1/me/notifications?limit=1000", headers=headers)
    assert too_many.status_code == 422
    long_id = await client.post(f"/api/v1/me/notifications/{'x' * 40}/read", headers=headers)
    assert long_id.status_code == 422
