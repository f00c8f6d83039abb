"""The audit log: secrets redacted, filtered and cursor-paginated reads for auditors."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.audit.service import REDACTED, RequestMeta, changes, record, redact
from tests.factories import auth_headers

API = "/api/v1"


def test_redact_hides_secrets_at_any_depth() -> None:
    diff = {
        "name": ["A", "B"],
        "password": "hunter2hunter2",
        "nested": {"refresh_token": "abc", "items": [{"code": "123456", "label": "x"}]},
        "api_key": "k",
        "password_hash": "$argon2id$...",
    }
    assert redact(diff) == {
        "name": ["A", "B"],
        "password": REDACTED,
        "nested": {"refresh_token": REDACTED, "items": [{"code": REDACTED, "label": "x"}]},
        "api_key": REDACTED,
        "password_hash": REDACTED,
    }


def test_changes_lists_only_changed_fields() -> None:
    assert changes({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"b": [2, 3]}


async def test_audit_log_is_filtered_and_paginated(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, admin: User, customer: User
) -> None:
    meta = RequestMeta(ip="203.0.113.9", user_agent="probe/1.0")
    for i in range(5):
        await record(
            db,
            meta,
            "shop.updated",
            actor_id=admin.id,
            entity_type="shop",
            entity_id=f"shop-{i}",
            diff={"name": [f"old{i}", f"new{i}"], "secret": "s"},
        )
    await record(db, meta, "auth.login", actor_id=customer.id, entity_type="user")
    await db.commit()

    headers = await auth_headers(app, admin)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"action": "shop.updated", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"{API}/audit-log", headers=headers, params=params)).json()
        seen += [e["entity_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"shop-{i}" for i in reversed(range(5))]

    one = await client.get(
        f"{API}/audit-log", headers=headers, params={"entity_type": "shop", "entity_id": "shop-3"}
    )
    [entry] = one.json()["items"]
    assert entry["actor_id"] == admin.id and entry["ip"] == "203.0.113.9"
    assert entry["user_agent"] == "probe/1.0"
    assert entry["diff"] == {"name": ["old3", "new3"], "secret": REDACTED}

    by_actor = await client.get(
        f"{API}/audit-log", headers=headers, params={"actor_id": customer.id}
    )
    assert [e["action"] for e in by_actor.json()["items"]] == ["auth.login"]
    bad = await client.get(f"{API}/audit-log", headers=headers, params={"cursor": "!!"})
    assert bad.status_code == 400
