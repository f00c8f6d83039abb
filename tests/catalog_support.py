"""Shared by the catalog, shops and delivery tests: callers with chosen permissions, and data.

`auth_headers` stands in for real users until `accounts` is merged: it registers a principal
loader that reads permissions and managed shops from extra token claims. The integrator swaps
this one fixture for real users (accounts' loader plus `shops.service.managed_shop_ids`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.auth import ACCESS_TOKEN_TYPE, ALGORITHM, AUDIENCE, Principal

AuthHeaders = Callable[..., dict[str, str]]

STAFF = ("zones:write", "categories:write", "products:write", "shops:write", "stock:write")


async def _claims_loader(_session: AsyncSession, claims: dict[str, Any]) -> Principal:
    return Principal(
        user_id=claims["sub"],
        permissions=frozenset(claims.get("test_permissions", ())),
        managed_shop_ids=frozenset(claims.get("test_shops", ())),
    )


@pytest.fixture
def auth_headers(app: FastAPI) -> Iterator[AuthHeaders]:
    """`auth_headers(user_id, permissions=[...], shops=[...])` -> an Authorization header."""
    previous = getattr(app.state, "principal_loader", None)
    app.state.principal_loader = _claims_loader

    def make(
        user_id: str, permissions: Sequence[str] = (), shops: Sequence[str] = ()
    ) -> dict[str, str]:
        now = int(time.time())
        token = jwt.encode(
            {
                "sub": user_id,
                "aud": AUDIENCE,
                "typ": ACCESS_TOKEN_TYPE,
                "iat": now,
                "exp": now + 600,
                "test_permissions": list(permissions),
                "test_shops": list(shops),
            },
            app.state.secret_key,
            algorithm=ALGORITHM,
        )
        return {"Authorization": f"Bearer {token}"}

    yield make
    app.state.principal_loader = previous


@pytest.fixture
def staff(auth_headers: AuthHeaders) -> dict[str, str]:
    return auth_headers("staff000000000000000000000000001", permissions=STAFF)


async def make_zone(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"name": f"Zone {time.monotonic_ns()}", "delivery_fee": 1000, **overrides}
    response = await client.post("/api/v1/zones", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_shop(
    client: Any, headers: dict[str, str], zone_id: str, **overrides: Any
) -> dict[str, Any]:
    body = {"name": f"Shop {time.monotonic_ns()}", "zone_id": zone_id, **overrides}
    response = await client.post("/api/v1/shops", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_category(
    client: Any, headers: dict[str, str], name: str, parent_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    body = {"name": name, "parent_id": parent_id, **overrides}
    response = await client.post("/api/v1/categories", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_product(
    client: Any,
    headers: dict[str, str],
    category_id: str,
    *,
    name_fr: str,
    name_en: str | None = None,
    prices: Sequence[int] = (1000,),
    **overrides: Any,
) -> dict[str, Any]:
    tag = time.monotonic_ns()
    body = {
        "reference": f"REF-{tag}",
        "name_fr": name_fr,
        "name_en": name_en or name_fr,
        "category_id": category_id,
        "slug": f"p-{tag}",
        "variants": [
            {"name": f"V{i}", "sku": f"SKU-{tag}-{i}", "price": p, "unit": "g", "weight": 250}
            for i, p in enumerate(prices)
        ],
        **overrides,
    }
    response = await client.post("/api/v1/products", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
