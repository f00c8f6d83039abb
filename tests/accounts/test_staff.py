"""Staff administration: users, roles, permissions; every change is audited."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.audit.models import AuditEntry
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_user

API = "/api/v1"


async def test_deactivating_a_user_revokes_their_sessions_at_once(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, admin: User, customer: User
) -> None:
    login = await client.post(
        f"{API}/auth/login", json={"email": customer.email, "password": DEFAULT_PASSWORD}
    )
    tokens = login.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get(f"{API}/me", headers=bearer)).status_code == 200

    staff = await auth_headers(app, admin)
    off = await client.patch(f"{API}/users/{customer.id}", headers=staff, json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert (await client.get(f"{API}/me", headers=bearer)).status_code == 401
    refresh = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "user.deactivated"))
    assert entry is not None and entry.actor_id == admin.id and entry.entity_id == customer.id
    assert entry.diff["is_active"] == [True, False] and entry.diff["sessions_revoked"] == 1

    self_off = await client.patch(
        f"{API}/users/{admin.id}", headers=staff, json={"is_active": False}
    )
    assert self_off.status_code == 409


async def test_roles_and_permissions_lifecycle(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, admin: User, customer: User
) -> None:
    staff = await auth_headers(app, admin)
    catalog = (await client.get(f"{API}/permissions", headers=staff)).json()["items"]
    assert {"users:read", "roles:write", "audit:read"} <= {p["name"] for p in catalog}
    roles = (await client.get(f"{API}/roles", headers=staff)).json()["items"]
    builtin = {r["name"] for r in roles if r["builtin"]}
    assert builtin == {"customer", "shop_manager", "delivery_agent", "support", "admin"}

    created = await client.post(
        f"{API}/roles",
        headers=staff,
        json={"name": "auditor", "description": "Reads the log", "permissions": ["audit:read"]},
    )
    assert created.status_code == 201, created.text
    duplicate = await client.post(f"{API}/roles", headers=staff, json={"name": "auditor"})
    assert duplicate.status_code == 409
    unknown = await client.post(
        f"{API}/roles", headers=staff, json={"name": "odd", "permissions": ["nope:nope"]}
    )
    assert unknown.status_code == 422
    fixed = await client.patch(f"{API}/roles/admin", headers=staff, json={"permissions": []})
    assert fixed.status_code == 409 and fixed.json()["code"] == "builtin_role"

    customer_headers = await auth_headers(app, customer)
    assert (await client.get(f"{API}/audit-log", headers=customer_headers)).status_code == 403
    assigned = await client.patch(
        f"{API}/users/{customer.id}", headers=staff, json={"roles": ["customer", "auditor"]}
    )
    assert assigned.status_code == 200 and assigned.json()["roles"] == ["auditor", "customer"]
    # the new permission applies to the existing session at once
    assert (await client.get(f"{API}/audit-log", headers=customer_headers)).status_code == 200

    widened = await client.patch(
        f"{API}/roles/auditor", headers=staff, json={"permissions": ["audit:read", "users:read"]}
    )
    assert widened.json()["permissions"] == ["audit:read", "users:read"]
    assert (await client.get(f"{API}/users", headers=customer_headers)).status_code == 200
    assert (await client.delete(f"{API}/roles/auditor", headers=staff)).status_code == 204
    assert (await client.get(f"{API}/audit-log", headers=customer_headers)).status_code == 403
    assert (await client.get(f"{API}/roles/auditor", headers=staff)).status_code == 404

    actions = [
        a
        async for a in await db.stream_scalars(
            select(AuditEntry.action).where(AuditEntry.actor_id == admin.id).order_by(AuditEntry.id)
        )
    ]
    assert actions == ["role.created", "user.roles_changed", "role.updated", "role.deleted"]


async def test_nobody_grants_more_than_they_hold(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, admin: User
) -> None:
    staff = await auth_headers(app, admin)
    await client.post(
        f"{API}/roles",
        headers=staff,
        json={"name": "user_admin", "permissions": ["users:read", "users:write", "roles:assign"]},
    )
    delegate = await create_user(db, roles=["user_admin"])
    target = await create_user(db, "customer")
    headers = await auth_headers(app, delegate)
    escalate = await client.patch(
        f"{API}/users/{delegate.id}", headers=headers, json={"roles": ["user_admin", "admin"]}
    )
    assert escalate.status_code == 403
    demote = await client.patch(f"{API}/users/{admin.id}", headers=headers, json={"roles": []})
    assert demote.status_code == 403
    allowed = await client.patch(
        f"{API}/users/{target.id}", headers=headers, json={"roles": ["customer", "delivery_agent"]}
    )
    assert allowed.status_code == 200, allowed.text
    beyond = await client.patch(
        f"{API}/users/{target.id}", headers=headers, json={"roles": ["customer", "support"]}
    )
    assert beyond.status_code == 403  # support grants roles:read, which the delegate lacks
    unknown = await client.patch(
        f"{API}/users/{target.id}", headers=headers, json={"roles": ["wizard"]}
    )
    assert unknown.status_code == 422


async def test_support_reads_but_cannot_change_users(
    client: httpx.AsyncClient, app: FastAPI, support: User, customer: User
) -> None:
    headers = await auth_headers(app, support)
    assert (await client.get(f"{API}/users/{customer.id}", headers=headers)).status_code == 200
    change = await client.patch(
        f"{API}/users/{customer.id}", headers=headers, json={"is_active": False}
    )
    assert change.status_code == 403


async def test_user_list_is_filtered_and_cursor_paginated(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, admin: User
) -> None:
    for i in range(5):
        await create_user(db, "customer", email=f"shopper{i}@example.com")
    await create_user(db, "delivery_agent", email="rider@example.com")
    headers = await auth_headers(app, admin)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "role": "customer"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"{API}/users", headers=headers, params=params)).json()
        seen += [u["email"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"shopper{i}@example.com" for i in reversed(range(5))]
    by_email = await client.get(f"{API}/users", headers=headers, params={"email": "RIDER@"})
    assert [u["email"] for u in by_email.json()["items"]] == ["rider@example.com"]
    bad = await client.get(f"{API}/users", headers=headers, params={"cursor": "%%%"})
    assert bad.status_code == 400
    too_many = await client.get(f"{API}/users", headers=headers, params={"limit": 1000})
    assert too_many.status_code == 422
    assert (await client.get(f"{API}/users/nope", headers=headers)).status_code == 404


async def test_nobody_changes_a_user_who_holds_more_than_they_do(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, admin: User, support: User
) -> None:
    """Issue 10, item 5: `users:write` alone does not reach an admin (or any user holding a
    permission the actor lacks): no rename, no deactivation, no demotion."""
    boss = await auth_headers(app, admin)
    made = await client.post(
        f"{API}/roles",
        headers=boss,
        json={"name": "desk", "permissions": ["users:read", "users:write", "roles:assign"]},
    )
    assert made.status_code == 201, made.text
    desk = await create_user(db, roles=["desk"])
    headers = await auth_headers(app, desk)
    admin_session = await auth_headers(app, admin)
    for change in ({"name": "Pwned"}, {"is_active": False}, {"roles": ["customer"]}):
        refused = await client.patch(f"{API}/users/{admin.id}", headers=headers, json=change)
        assert refused.status_code == 403, (change, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "outranked"
    # support holds users:read and roles:read, which the desk lacks: out of reach too
    refused = await client.patch(
        f"{API}/users/{support.id}", headers=headers, json={"is_active": False}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "outranked"
    untouched = await db.get(User, admin.id, populate_existing=True)
    assert untouched is not None and untouched.is_active and untouched.name != "Pwned"
    assert (await client.get(f"{API}/me", headers=admin_session)).status_code == 200
    # an equal or lesser account is still the desk's to change, and so is the desk's own
    peer = await create_user(db, roles=["desk"])
    customer = await create_user(db, "customer")
    for target in (peer, customer, desk):
        renamed = await client.patch(
            f"{API}/users/{target.id}", headers=headers, json={"name": "Renamed"}
        )
        assert renamed.status_code == 200, renamed.text
    off = await client.patch(
        f"{API}/users/{customer.id}", headers=headers, json={"is_active": False}
    )
    assert off.status_code == 200
    # and an admin still reaches everyone
    back = await client.patch(f"{API}/users/{customer.id}", headers=boss, json={"is_active": True})
    assert back.status_code == 200
