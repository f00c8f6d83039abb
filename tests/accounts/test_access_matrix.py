"""Every accounts and audit route, as every kind of caller, with the expected status.

Customer A owns the address; customer B (and staff, through /me) get 404 for it, never 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Address, Favorite, Role
from loumo.catalog.models import Category, Product, Variant
from loumo.core.auth import Principal
from loumo.orders import checkout
from loumo.orders.lifecycle import sell_fulfilment
from loumo.orders.models import Order
from loumo.orders.queries import fulfilments_of, items_of
from loumo.orders.schemas import OrderCreate
from loumo.shops.models import Shop, Stock, shop_managers
from tests.factories import auth_headers, create_user, create_zone

API = "/api/v1"
CALLERS = ["anonymous", "customer_a", "customer_b", "shop_manager", "agent", "support", "admin"]
ADDRESS = {"label": "Home", "street": "Rue 1", "locality": "Bastos", "zone_id": "{zone}"}


@dataclass
class Case:
    method: str
    path: str
    body: dict[str, Any] | None
    expected: tuple[int, ...]  # one status per CALLERS entry


def everyone(status: int) -> tuple[int, ...]:
    return (status,) * len(CALLERS)


def signed_in(status: int) -> tuple[int, ...]:
    return (401,) + (status,) * (len(CALLERS) - 1)


def owner_only(status: int) -> tuple[int, ...]:
    return (401, status, 404, 404, 404, 404, 404)


def staff(reader: int, writer: bool = False) -> tuple[int, ...]:
    return (401, 403, 403, 403, 403, 403 if writer else reader, reader)


CASES = [
    Case("GET", "/me", None, signed_in(200)),
    Case("PATCH", "/me", {"language": "en"}, signed_in(200)),
    Case("GET", "/me/addresses", None, signed_in(200)),
    Case("POST", "/me/addresses", ADDRESS, signed_in(201)),
    Case("GET", "/me/addresses/{address}", None, owner_only(200)),
    Case("PATCH", "/me/addresses/{address}", {"label": "Office"}, owner_only(200)),
    Case("DELETE", "/me/addresses/{address}", None, owner_only(204)),
    Case("GET", "/me/favorites", None, signed_in(200)),
    Case("PUT", "/me/favorites/{product}", None, signed_in(200)),
    Case("DELETE", "/me/favorites/{product}", None, signed_in(204)),
    Case("PUT", "/me/favorites/unknown", None, signed_in(404)),
    Case("GET", "/users", None, staff(200)),
    Case("GET", "/users/{customer_a}", None, staff(200)),
    Case("PATCH", "/users/{customer_a}", {"name": "Renamed"}, staff(200, writer=True)),
    Case("GET", "/permissions", None, staff(200)),
    Case("GET", "/roles", None, staff(200)),
    Case("POST", "/roles", {"name": "matrix"}, staff(201, writer=True)),
    Case("GET", "/roles/{role}", None, staff(200)),
    Case("PATCH", "/roles/{role}", {"description": "x"}, staff(200, writer=True)),
    Case("DELETE", "/roles/{role}", None, staff(204, writer=True)),
    Case("GET", "/audit-log", None, staff(200, writer=True)),
    Case(
        "POST",
        "/auth/register",
        {"name": "N", "email": "new@example.com", "password": "a-sound-passphrase-42"},
        everyone(202),
    ),
    Case("POST", "/auth/verify-email", {"email": "x@example.com", "code": "000000"}, everyone(400)),
    Case("POST", "/auth/resend-verification", {"email": "x@example.com"}, everyone(202)),
    Case("POST", "/auth/login", {"email": "x@example.com", "password": "nope"}, everyone(401)),
    Case("POST", "/auth/refresh", {"refresh_token": "bogus"}, everyone(401)),
    Case("POST", "/auth/logout", {"refresh_token": "bogus"}, everyone(204)),
    Case("POST", "/auth/password/forgot", {"email": "x@example.com"}, everyone(202)),
    Case(
        "POST",
        "/auth/password/reset",
        {"token": "bogus", "new_password": "a-sound-passphrase-42"},
        everyone(400),
    ),
]

ROLE_OF = {
    "customer_a": "customer",
    "customer_b": "customer",
    "shop_manager": "shop_manager",
    "agent": "delivery_agent",
    "support": "support",
    "admin": "admin",
}


def test_the_matrix_covers_every_accounts_and_audit_route(app: FastAPI) -> None:
    mine = {
        (method, (context.path or "").removeprefix(API))
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        and route.endpoint.__module__ in {"loumo.accounts.router", "loumo.audit.router"}
        for method in route.methods or ()
    }
    covered = {
        (
            c.method,
            c.path.replace("{address}", "{address_id}")
            .replace("{customer_a}", "{user_id}")
            .replace("{role}", "{name}")
            .replace("{product}", "{product_id}"),
        )
        for c in CASES
        if not c.path.endswith("/unknown")
    }
    assert mine == covered


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def _matrix_world(db: AsyncSession) -> tuple[dict[str, Any], Any, Address, Product]:
    """One user per caller, a zone, customer A's address there, and a product."""
    users = {name: await create_user(db, role) for name, role in ROLE_OF.items()}
    zone = await create_zone(db)
    address = Address(
        user_id=users["customer_a"].id,
        label="Home",
        street="Rue 1",
        locality="Bastos",
        zone_id=zone.id,
        is_default=True,
    )
    category = Category(name="Matrix", slug="matrix", path="/")
    db.add_all([address, category])
    await db.flush()
    product = Product(
        reference="MATRIX", slug="matrix", category_id=category.id, name_fr="M", name_en="M"
    )
    db.add(product)
    await db.flush()
    return users, zone, address, product


@pytest.mark.parametrize("caller_index", range(len(CALLERS)), ids=CALLERS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.path}" for c in CASES])
async def test_access(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, case: Case, caller_index: int
) -> None:
    users, zone, address, product = await _matrix_world(db)
    db.add(Role(name="temp", description=""))
    await db.flush()
    db.add(Favorite(user_id=users["customer_a"].id, product_id=product.id))
    await db.commit()
    ids = {
        "zone": zone.id,
        "address": address.id,
        "role": "temp",
        "customer_a": users["customer_a"].id,
        "product": product.id,
    }

    caller = CALLERS[caller_index]
    headers = {} if caller == "anonymous" else await auth_headers(app, users[caller])
    response = await client.request(
        case.method, API + _fill(case.path, ids), headers=headers, json=_fill(case.body, ids)
    )
    assert response.status_code == case.expected[caller_index], response.text


# --- orders ---------------------------------------------------------------------------------
# Customer A owns a confirmed cash order of the manager's shop (accepted, not yet preparing).

QUOTE = {
    "items": [{"variant_id": "{variant}", "shop_id": "{shop}", "quantity": 1}],
    "address_id": "{address}",
    "payment_method": "cash",
}
BASKET = {**QUOTE, "contact_phone": "+237650000000"}
ORDER = "/orders/{order}"
FULFILMENT = ORDER + "/fulfilments/{fulfilment}"


def _orders(
    anon: int, a: int, b: int, manager: int, agent: int, support: int, admin: int
) -> tuple[int, ...]:
    """One status per caller, in CALLERS order."""
    return (anon, a, b, manager, agent, support, admin)


ORDER_CASES = [
    Case("POST", "/checkout/quote", QUOTE, _orders(401, 200, 400, 400, 400, 400, 400)),
    Case("POST", "/orders", BASKET, _orders(401, 201, 400, 400, 400, 400, 400)),
    Case("GET", "/orders", None, signed_in(200)),
    Case("GET", ORDER, None, _orders(401, 200, 404, 200, 404, 200, 200)),
    Case("POST", ORDER + "/cancel", None, _orders(401, 200, 404, 403, 404, 403, 200)),
    Case("POST", ORDER + "/transitions", {"to": "preparing"}, staff(200, writer=True)),
    Case("POST", FULFILMENT + "/accept", None, _orders(401, 403, 404, 409, 404, 403, 409)),
    Case(
        "POST",
        FULFILMENT + "/transitions",
        {"to": "preparing"},
        _orders(401, 403, 404, 200, 404, 403, 200),
    ),
    Case(
        "POST",
        ORDER + "/items/{item}/short",
        {"quantity": 1},
        _orders(401, 403, 404, 409, 404, 403, 409),
    ),
]


def test_the_matrix_covers_every_orders_route(app: FastAPI) -> None:
    mine = {
        (method, (context.path or "").removeprefix(API))
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        and route.endpoint.__module__ == "loumo.orders.router"
        for method in route.methods or ()
    }
    covered = {
        (
            c.method,
            c.path.replace("{order}", "{order_id}")
            .replace("{fulfilment}", "{fulfilment_id}")
            .replace("{item}", "{item_id}"),
        )
        for c in ORDER_CASES
    }
    assert mine == covered


@pytest.mark.parametrize("caller_index", range(len(CALLERS)), ids=CALLERS)
@pytest.mark.parametrize("case", ORDER_CASES, ids=[f"{c.method} {c.path}" for c in ORDER_CASES])
async def test_orders_access(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, case: Case, caller_index: int
) -> None:
    users, zone, address, product = await _matrix_world(db)
    shop = Shop(name="Matrix shop", slug="matrix-shop", zone_id=zone.id)
    variant = Variant(product_id=product.id, name="1 kg", sku="MATRIX-1", price=1000)
    db.add_all([shop, variant])
    await db.flush()
    db.add(Stock(shop_id=shop.id, variant_id=variant.id, quantity=10))
    await db.execute(
        insert(shop_managers), [{"shop_id": shop.id, "user_id": users["shop_manager"].id}]
    )
    await db.commit()
    ids = {"zone": zone.id, "shop": shop.id, "variant": variant.id, "address": address.id}
    order = await checkout.place_order(
        db,
        Principal(user_id=users["customer_a"].id),
        OrderCreate.model_validate(_fill(BASKET, ids)),
        payment_timeout=timedelta(minutes=30),
    )
    fulfilment = (await fulfilments_of(db, order.id))[0]
    await sell_fulfilment(db, fulfilment, actor_id=None)
    await db.execute(update(Order).where(Order.id == order.id).values(status="confirmed"))
    item = (await items_of(db, order.id))[0]
    await db.commit()
    ids |= {"order": order.id, "fulfilment": fulfilment.id, "item": item.id}

    caller = CALLERS[caller_index]
    headers = {} if caller == "anonymous" else await auth_headers(app, users[caller])
    headers["Idempotency-Key"] = f"matrix-{caller}"
    response = await client.request(
        case.method, API + _fill(case.path, ids), headers=headers, json=_fill(case.body, ids)
    )
    assert response.status_code == case.expected[caller_index], response.text
