"""The principal loader: roles to permissions, enrichers, and who holds a permission."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.directory import holders_of
from loumo.accounts.models import User
from loumo.core.auth import CurrentPrincipal, Principal
from loumo.core.settings import Settings
from loumo.main import create_app
from tests.factories import DEFAULT_PASSWORD, auth_headers, create_user

API = "/api/v1"


async def test_enrichers_extend_the_principal(
    app: FastAPI, settings: Settings, shop_manager: User
) -> None:
    """Another domain (shops) fills `managed_shop_ids` by appending an enricher."""

    async def managed_shops(session: AsyncSession, principal: Principal) -> Principal:
        if "shop_manager" not in principal.roles:
            return principal
        return dataclasses.replace(principal, managed_shop_ids=frozenset({"shop-1"}))

    seen: list[Principal] = []

    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        seen.append(principal)
        return {}

    probe = create_app(settings)
    probe.add_api_route("/whoami", whoami)
    probe.state.principal_enrichers.append(managed_shops)
    async with probe.router.lifespan_context(probe):
        transport = httpx.ASGITransport(app=probe)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = await auth_headers(app, shop_manager)
            assert (await client.get("/whoami", headers=headers)).status_code == 200
    [principal] = seen
    assert principal.roles == {"shop_manager"} and principal.manages_shop("shop-1")
    assert principal.session_id is not None


async def test_holders_of_a_permission(
    db: AsyncSession, admin: User, support: User, customer: User
) -> None:
    inactive = await create_user(db, "support", is_active=False)
    holders = set(await holders_of(db, "users:read"))
    assert holders == {admin.id, support.id}
    assert inactive.id not in holders and customer.id not in holders


async def test_concurrent_refreshes_of_one_token_never_both_succeed(
    client: httpx.AsyncClient, customer: User
) -> None:
    tokens = (
        await client.post(
            f"{API}/auth/login", json={"email": customer.email, "password": DEFAULT_PASSWORD}
        )
    ).json()
    body = {"refresh_token": tokens["refresh_token"]}
    answers = await asyncio.gather(
        client.post(f"{API}/auth/refresh", json=body),
        client.post(f"{API}/auth/refresh", json=body),
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 401]
