"""Every operation of the OpenAPI document, as every kind of caller, with the expected outcome.

The callers: anonymous, a customer and another customer, the manager of the world's shop and
the manager of another shop, a delivery agent, support and admin. An outcome is

- `OK`: access granted: a 2xx, or a business answer from the service (400 or 409, e.g. an
  address that is not the caller's, an order already cancelled). 401, 403, 404 and 422 are not;
- 401: no caller; 403: a caller who may not (a permission they lack, or an object they can
  see but not change); 404: an object that is not theirs (CONTRIBUTING rule 6).

The table stays short because most rows derive their outcomes from the route's declared policy
(`x-policy`): `public` is OK for all, `authenticated` for every caller, `permission:x:y` for the
built-in roles that hold it (`loumo.core.permissions.BUILTIN_ROLES`) and 403 for the others.
Only `owner` routes spell out who owns what. `test_every_operation_has_a_row` fails for an
operation without a row (or a row without an operation).

The world (users, a zone, two shops, a product in stock, an address, orders, a payment) is built
once for the module through the API; a row that deletes or moves something along builds its own
object first (`fresh`), so that rows do not depend on their order. In each row the refused
callers go first, on the untouched object, then the allowed ones.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from loumo.core.db import Database
from loumo.core.permissions import ALL, BUILTIN_ROLES
from loumo.core.policy import POLICY_KEY
from loumo.models import metadata
from loumo.notifications.models import Notification
from loumo.orders.models import Order
from loumo.payments.models import Payment
from tests.factories import (
    DEFAULT_PASSWORD,
    auth_headers,
    create_user,
    make_category,
    make_product,
    make_shop,
    make_zone,
)
from tests.images import png_bytes

API = "/api/v1"
OK = "ok"
Outcome = str | int
CALLERS = (
    "anonymous",
    "customer",
    "other_customer",
    "manager",
    "other_manager",
    "agent",
    "support",
    "admin",
)
ROLE_OF = {
    "customer": "customer",
    "other_customer": "customer",
    "manager": "shop_manager",
    "other_manager": "shop_manager",
    "agent": "delivery_agent",
    "support": "support",
    "admin": "admin",
}
SIGNED_IN = CALLERS[1:]
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def granted(status: int) -> bool:
    return 200 <= status < 300 or status in (400, 409)


# --- the world ----------------------------------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    headers: dict[str, dict[str, str]]  # per caller; {} for anonymous
    emails: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    async def call(self, caller: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers[caller], "Idempotency-Key": uuid.uuid4().hex}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def ok(self, caller: str, method: str, path: str, **kwargs: Any) -> Any:
        """Arrange through the API: the call must succeed; returns its JSON (if any)."""
        response = await self.call(caller, method, API + path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def basket(self, method: str = "cash") -> dict[str, Any]:
        line = {"variant_id": self.ids["variant_id"], "shop_id": self.ids["shop_id"]}
        return {
            "items": [{**line, "quantity": 1}],
            "address_id": self.ids["address_id"],
            "payment_method": method,
            "contact_phone": "+237650000000",
        }

    async def place_order(self, method: str = "cash", *, moves: int = 0) -> dict[str, str]:
        """The customer's order of one line in the manager's shop; `moves`: 1 accepted by the
        shop, 2 being prepared."""
        order = await self.ok("customer", "POST", "/orders", json=self.basket(method))
        ids = {
            "order_id": order["id"],
            "fulfilment_id": order["fulfilments"][0]["id"],
            "item_id": order["items"][0]["id"],
        }
        fulfilment = "/orders/{order_id}/fulfilments/{fulfilment_id}".format(**ids)
        if moves >= 1:
            await self.ok("manager", "POST", fulfilment + "/accept")
        if moves >= 2:
            await self.ok("manager", "POST", fulfilment + "/transitions", json={"to": "preparing"})
        return ids


def tag() -> str:
    return str(time.monotonic_ns())


@pytest.fixture(autouse=True)
def _clean_tables() -> None:
    """Replaces the per-test cleaning of tests/conftest.py: the world lives for the module and
    is emptied when it ends (`world`)."""


@pytest.fixture(scope="module")
async def world(app: FastAPI) -> AsyncIterator[World]:
    database: Database = app.state.db
    async with database.sessionmaker() as db:
        users = {name: await create_user(db, role) for name, role in ROLE_OF.items()}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        headers |= {n: await auth_headers(app, u) for n, u in users.items()}
        emails = {"anonymous": users["customer"].email} | {n: u.email for n, u in users.items()}
        w = World(app, client, headers, emails)
        admin = headers["admin"]
        zone = await make_zone(client, admin)
        shop = await make_shop(client, admin, zone["id"])
        other_shop = await make_shop(client, admin, zone["id"])
        category = await make_category(client, admin, f"Matrix {tag()}")
        product = await make_product(client, admin, category["id"], name_fr="Riz")
        variant = product["variants"][0]["id"]
        for name, shop_id in (("manager", shop["id"]), ("other_manager", other_shop["id"])):
            await w.ok("admin", "PUT", f"/shops/{shop_id}/managers/{users[name].id}")
        await w.ok("admin", "PUT", f"/shops/{shop['id']}/stock/{variant}", json={"quantity": 500})
        address = await w.ok("customer", "POST", "/me/addresses", json=address_body(zone["id"]))
        await w.ok("customer", "PUT", f"/me/favorites/{product['id']}")
        upload = await w.ok("admin", "POST", "/media/images", files=png_file(), data=PRODUCT)
        await w.ok(
            "admin", "POST", f"/products/{product['id']}/images", json={"key": upload["key"]}
        )
        await w.ok("admin", "POST", "/roles", json={"name": "matrix_role"})
        promotion = await w.ok("admin", "POST", "/promotions", json=promotion_body())
        topic = await fresh_topic(w)
        entry = await w.ok("admin", "POST", "/faq", json=entry_body(topic["topic_id"]))
        w.ids |= {
            "zone_id": zone["id"],
            "shop_id": shop["id"],
            "category_id": category["id"],
            "product_id": product["id"],
            "variant_id": variant,
            "address_id": address["id"],
            "key": upload["key"],
            "name": "matrix_role",
            "user_id": users["customer"].id,
            "promotion_id": promotion["id"],
            "promo_code": promotion["code"],
            "entry_id": entry["id"],
        } | topic
        # The customer's prepaid order, paid (a succeeded payment, as the provider's word leaves
        # it), and one notification of theirs.
        w.ids |= await w.place_order("mobile_money")
        async with database.sessionmaker() as db:
            order = await db.get(Order, w.ids["order_id"])
            assert order is not None
            payment = Payment(
                order_id=order.id,
                user_id=order.user_id,
                method="mobile_money",
                provider="pawapay",
                reference=str(uuid.uuid4()),
                amount=order.total,
                currency=order.currency,
                status="succeeded",
            )
            db.add(payment)
            await db.flush()
            order.status, order.payment_status = "confirmed", "paid"
            order.paid_payment_id, order.paid_amount = payment.id, order.total
            notification = Notification(
                user_id=users["customer"].id, kind="order", severity="info", title="T", body="B"
            )
            db.add(notification)
            await db.commit()
            w.ids |= {"payment_id": payment.id, "notification_id": notification.id}
        yield w
    async with database.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))
    await app.state.rate_limiter.reset()


PRODUCT = {"purpose": "product"}


def png_file() -> dict[str, Any]:
    return {"file": ("photo.png", png_bytes((10, 120, 40)), "image/png")}


def address_body(zone_id: str) -> dict[str, Any]:
    return {"label": "Home", "street": "Rue 1", "locality": "Bastos", "zone_id": zone_id}


def promotion_body() -> dict[str, Any]:
    return {"kind": "percentage", "value": 10, "code": f"M{tag()}"}


# --- fresh objects for rows that delete or move things along ------------------------------------

Fresh = Callable[[World], Awaitable[dict[str, str]]]


async def fresh_address(w: World) -> dict[str, str]:
    body = address_body(w.ids["zone_id"])
    return {"address_id": (await w.ok("customer", "POST", "/me/addresses", json=body))["id"]}


async def fresh_role(w: World) -> dict[str, str]:
    return {"name": (await w.ok("admin", "POST", "/roles", json={"name": f"r{tag()}"}))["name"]}


async def fresh_zone(w: World) -> dict[str, str]:
    return {"zone_id": (await make_zone(w.client, w.headers["admin"]))["id"]}


async def fresh_category(w: World) -> dict[str, str]:
    category = await make_category(w.client, w.headers["admin"], f"C {tag()}")
    return {"category_id": category["id"]}


async def fresh_product(w: World) -> dict[str, str]:
    product = await make_product(w.client, w.headers["admin"], w.ids["category_id"], name_fr="P")
    return {"product_id": product["id"]}


async def fresh_variant(w: World) -> dict[str, str]:
    body = {"name": "2 kg", "sku": f"SKU-{tag()}", "price": 1500}
    variant = await w.ok(
        "admin", "POST", "/products/{product_id}/variants".format(**w.ids), json=body
    )
    return {"variant_id": variant["id"]}


async def fresh_shop(w: World) -> dict[str, str]:
    return {"shop_id": (await make_shop(w.client, w.headers["admin"], w.ids["zone_id"]))["id"]}


async def shop_image(w: World) -> dict[str, str]:
    await w.ok("admin", "PUT", "/shops/{shop_id}/image".format(**w.ids), json={"key": w.ids["key"]})
    return {}


async def product_image(w: World) -> dict[str, str]:
    path = "/products/{product_id}/images".format(**w.ids)
    await w.ok("admin", "PUT", path, json={"images": [w.ids["key"]]})
    return {}


async def new_user(w: World) -> dict[str, str]:
    database: Database = w.app.state.db
    async with database.sessionmaker() as db:
        return {"user_id": (await create_user(db)).id}


async def new_manager(w: World) -> dict[str, str]:
    ids = await new_user(w)
    await w.ok("admin", "PUT", "/shops/{shop_id}/managers/{user_id}".format(**(w.ids | ids)))
    return ids


async def fresh_promotion(w: World) -> dict[str, str]:
    return {
        "promotion_id": (await w.ok("admin", "POST", "/promotions", json=promotion_body()))["id"]
    }


def entry_body(topic_id: str) -> dict[str, Any]:
    return {"topic_id": topic_id, "question_fr": "Q ?", "answer_fr": "R.", "is_published": True}


async def fresh_topic(w: World) -> dict[str, str]:
    body = {"slug": f"topic-{tag()}", "title_fr": "Aide", "is_published": True}
    return {"topic_id": (await w.ok("admin", "POST", "/faq/topics", json=body))["id"]}


async def fresh_entry(w: World) -> dict[str, str]:
    entry = await w.ok("admin", "POST", "/faq", json=entry_body(w.ids["topic_id"]))
    return {"entry_id": entry["id"]}


async def public_setting(w: World) -> dict[str, str]:
    """`{key}` of a settings row (the world's `key` is an upload's)."""
    return {"key": "contact_phone"}


async def placed_order(w: World) -> dict[str, str]:
    """A cash order awaiting the shop's acceptance."""
    return await w.place_order("cash")


async def confirmed_order(w: World) -> dict[str, str]:
    """A cash order the shop accepted."""
    return await w.place_order("cash", moves=1)


async def preparing_order(w: World) -> dict[str, str]:
    """A cash order the shop is preparing (where a line may be marked short)."""
    return await w.place_order("cash", moves=2)


# --- the table ----------------------------------------------------------------------------------


def access(ok: Iterable[str], hidden: Iterable[str] = ()) -> dict[str, Outcome]:
    """An owner route: `ok` may, `hidden` get 404 (not theirs), other callers 403."""
    ok, hidden = set(ok), set(hidden)
    return {
        c: 401 if c == "anonymous" else OK if c in ok else 404 if c in hidden else 403
        for c in CALLERS
    }


SELF = access(SIGNED_IN)  # "/me/…": every caller acts on their own
CUSTOMERS_OWN = access({"customer"}, hidden=set(SIGNED_IN) - {"customer"})
SHOP_STAFF = access({"manager", "admin"})  # the shop's managers, and stock staff
ORDER_READERS = {"customer", "manager", "support", "admin"}
NOT_ORDER_READERS = {"other_customer", "other_manager", "agent"}
PAYMENT_READERS = access(
    {"customer", "support", "admin"}, hidden={"other_customer", "manager", "other_manager", "agent"}
)


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # the OpenAPI path; {param} filled from the world's ids (or the row's `fresh`)
    json: Any = None  # "{name}" in strings filled from the ids, and {caller}
    access: Mapping[str, Outcome] | None = None  # required for `owner`; else from the policy
    fresh: Fresh | None = None
    upload: bool = False

    @property
    def id(self) -> str:
        return f"{self.method} {self.path.removeprefix(API)}"


QUOTE = {
    "items": [{"variant_id": "{variant_id}", "shop_id": "{shop_id}", "quantity": 1}],
    "address_id": "{address_id}",
    "payment_method": "cash",
}
ORDER = API + "/orders/{order_id}"
FULFILMENT = ORDER + "/fulfilments/{fulfilment_id}"
STOCK = API + "/shops/{shop_id}/stock/{variant_id}"

ROWS = [
    # operations
    Row("GET", "/healthz"),
    Row("GET", "/readyz"),
    Row("GET", "/metrics"),
    # auth: public; a signed-in caller may use them too
    Row(
        "POST",
        API + "/auth/register",
        {"name": "N", "email": "new-{caller}@example.com", "password": "a-sound-passphrase-42"},
    ),
    Row("POST", API + "/auth/verify-email", {"email": "x@example.com", "code": "000000"}),
    Row("POST", API + "/auth/resend-verification", {"email": "x-{caller}@example.com"}),
    Row("POST", API + "/auth/login", {"email": "{email}", "password": DEFAULT_PASSWORD}),
    Row("POST", API + "/auth/refresh", {"refresh_token": "{refresh_token}"}),
    Row("POST", API + "/auth/logout", {"refresh_token": "bogus"}),
    Row("POST", API + "/auth/password/forgot", {"email": "x-{caller}@example.com"}),
    Row(
        "POST",
        API + "/auth/password/reset",
        {"token": "bogus", "new_password": "a-sound-passphrase-42"},
    ),
    # me
    Row("GET", API + "/me"),
    Row("PATCH", API + "/me", {"language": "en"}),
    Row("GET", API + "/me/addresses", access=SELF),
    Row("POST", API + "/me/addresses", address_body("{zone_id}"), access=SELF),
    Row("GET", API + "/me/addresses/{address_id}", access=CUSTOMERS_OWN),
    Row("PATCH", API + "/me/addresses/{address_id}", {"label": "Office"}, access=CUSTOMERS_OWN),
    Row("DELETE", API + "/me/addresses/{address_id}", access=CUSTOMERS_OWN, fresh=fresh_address),
    Row("GET", API + "/me/favorites", access=SELF),
    Row("PUT", API + "/me/favorites/{product_id}", access=SELF),
    Row("DELETE", API + "/me/favorites/{product_id}", access=SELF),
    Row("GET", API + "/me/notifications", access=SELF),
    Row("POST", API + "/me/notifications/read-all", access=SELF),
    Row("POST", API + "/me/notifications/{notification_id}/read", access=CUSTOMERS_OWN),
    # staff: accounts, roles, audit
    Row("GET", API + "/users"),
    Row("GET", API + "/users/{user_id}"),
    Row("PATCH", API + "/users/{user_id}", {"name": "Renamed"}),
    Row("GET", API + "/permissions"),
    Row("GET", API + "/roles"),
    Row("POST", API + "/roles", {"name": "role_{caller}"}),
    Row("GET", API + "/roles/{name}"),
    Row("PATCH", API + "/roles/{name}", {"description": "x"}),
    Row("DELETE", API + "/roles/{name}", fresh=fresh_role),
    Row("GET", API + "/audit-log"),
    # zones and catalog
    Row("GET", API + "/zones"),
    Row("POST", API + "/zones", {"name": "Zone {caller}", "delivery_fee": 700}),
    Row("GET", API + "/zones/{zone_id}"),
    Row("PATCH", API + "/zones/{zone_id}", {"delivery_fee": 1000}),
    Row("DELETE", API + "/zones/{zone_id}", fresh=fresh_zone),
    Row("GET", API + "/categories"),
    Row("POST", API + "/categories", {"name": "Category {caller}"}),
    Row("GET", API + "/categories/{category_id}"),
    Row("PATCH", API + "/categories/{category_id}", {"position": 1}),
    Row("DELETE", API + "/categories/{category_id}", fresh=fresh_category),
    Row("GET", API + "/products"),
    Row(
        "POST",
        API + "/products",
        {"reference": "R-{caller}", "name_fr": "P", "name_en": "P", "category_id": "{category_id}"},
    ),
    Row("GET", API + "/products/{product_id}"),
    Row("PATCH", API + "/products/{product_id}", {"name_en": "Rice"}),
    Row("DELETE", API + "/products/{product_id}", fresh=fresh_product),
    Row("POST", API + "/products/{product_id}/images", {"key": "{key}"}),
    Row("PUT", API + "/products/{product_id}/images", {"images": ["{key}"]}),
    Row("DELETE", API + "/products/{product_id}/images/{key}", fresh=product_image),
    Row("GET", API + "/products/{product_id}/variants"),
    Row(
        "POST",
        API + "/products/{product_id}/variants",
        {"name": "3 kg", "sku": "SKU-{caller}", "price": 2500},
    ),
    Row("GET", API + "/variants/{variant_id}"),
    Row("PATCH", API + "/variants/{variant_id}", {"name": "1 kg"}),
    Row("DELETE", API + "/variants/{variant_id}", fresh=fresh_variant),
    # shops and stock
    Row("GET", API + "/shops"),
    Row("POST", API + "/shops", {"name": "Shop {caller}", "zone_id": "{zone_id}"}),
    Row("GET", API + "/shops/{shop_id}"),
    Row("PATCH", API + "/shops/{shop_id}", {"address": "Rue 2"}),
    Row("DELETE", API + "/shops/{shop_id}", fresh=fresh_shop),
    Row("PUT", API + "/shops/{shop_id}/image", {"key": "{key}"}, access=SHOP_STAFF),
    Row("DELETE", API + "/shops/{shop_id}/image", access=SHOP_STAFF, fresh=shop_image),
    Row("GET", API + "/shops/{shop_id}/managers"),
    Row("PUT", API + "/shops/{shop_id}/managers/{user_id}", fresh=new_user),
    Row("DELETE", API + "/shops/{shop_id}/managers/{user_id}", fresh=new_manager),
    Row("GET", API + "/shops/{shop_id}/stock", access=SHOP_STAFF),
    Row("GET", STOCK, access=SHOP_STAFF),
    Row("PUT", STOCK, {"quantity": 500}, access=SHOP_STAFF),
    Row("POST", STOCK + "/adjustments", {"delta": 1, "reason": "count"}, access=SHOP_STAFF),
    Row("GET", STOCK + "/movements", access=SHOP_STAFF),
    # promotions
    Row("GET", API + "/promotions"),
    Row("POST", API + "/promotions", {"kind": "fixed", "value": 100, "code": "C-{caller}"}),
    Row("POST", API + "/promotions/validate", {"code": "{promo_code}", "items": QUOTE["items"]}),
    Row("GET", API + "/promotions/{promotion_id}"),
    Row("PATCH", API + "/promotions/{promotion_id}", {"value": 15}),
    Row("DELETE", API + "/promotions/{promotion_id}", fresh=fresh_promotion),
    # checkout and orders: the customer's orders, in the manager's shop
    Row("POST", API + "/checkout/quote", QUOTE),
    Row("POST", API + "/orders", {**QUOTE, "contact_phone": "+237650000000"}),
    Row("GET", API + "/orders"),
    Row("GET", ORDER, access=access(ORDER_READERS, hidden=NOT_ORDER_READERS)),
    Row(
        "POST",
        ORDER + "/cancel",
        access=access({"customer", "admin"}, hidden=NOT_ORDER_READERS),
        fresh=placed_order,
    ),
    Row("POST", ORDER + "/transitions", {"to": "preparing"}, fresh=confirmed_order),
    Row(
        "POST",
        FULFILMENT + "/accept",
        access=access({"manager", "admin"}, hidden=NOT_ORDER_READERS),
        fresh=placed_order,
    ),
    Row(
        "POST",
        FULFILMENT + "/transitions",
        {"to": "preparing"},
        access=access({"manager", "admin"}, hidden=NOT_ORDER_READERS),
        fresh=confirmed_order,
    ),
    Row(
        "POST",
        ORDER + "/items/{item_id}/short",
        {"quantity": 1},
        access=access({"manager", "admin"}, hidden=NOT_ORDER_READERS),
        fresh=preparing_order,
    ),
    # payments: the customer's paid order
    Row(
        "POST",
        ORDER + "/payments",
        {"method": "cash"},
        access=access({"customer"}, hidden=set(SIGNED_IN) - {"customer"}),
    ),
    Row("GET", ORDER + "/payments", access=PAYMENT_READERS),
    Row("GET", API + "/payments/{payment_id}", access=PAYMENT_READERS),
    Row("GET", API + "/payments/{payment_id}/refunds", access=PAYMENT_READERS),
    Row("POST", API + "/payments/{payment_id}/refunds", {}),
    Row("POST", API + "/webhooks/pawapay/deposits", {"depositId": "x"}),
    Row("POST", API + "/webhooks/pawapay/refunds", {"refundId": "x"}),
    Row("POST", API + "/webhooks/stripe", {"id": "evt"}),
    # media
    Row("POST", API + "/media/images", upload=True),
    # content: published FAQ topics and entries, settings (drafts and private settings: the
    # visibility tests of tests/content)
    Row("GET", API + "/faq/topics"),
    Row("POST", API + "/faq/topics", {"slug": "matrix-topic", "title_fr": "M"}),
    Row("GET", API + "/faq/topics/{topic_id}"),
    Row("PATCH", API + "/faq/topics/{topic_id}", {"title_en": "Help"}),
    Row("DELETE", API + "/faq/topics/{topic_id}", fresh=fresh_topic),
    Row("GET", API + "/faq"),
    Row("POST", API + "/faq", entry_body("{topic_id}")),
    Row("GET", API + "/faq/{entry_id}"),
    Row("PATCH", API + "/faq/{entry_id}", {"position": 3}),
    Row("DELETE", API + "/faq/{entry_id}", fresh=fresh_entry),
    Row("GET", API + "/settings"),
    Row("GET", API + "/settings/{key}", fresh=public_setting),
    Row("PUT", API + "/settings/{key}", {"value": "+237 650 00 00 00"}, fresh=public_setting),
    Row("DELETE", API + "/settings/{key}", fresh=public_setting),
]


def operations(app: FastAPI) -> dict[tuple[str, str], str]:
    """(METHOD, path) of every operation of the OpenAPI document, with its declared policy."""
    return {
        (method.upper(), path): operation.get(POLICY_KEY, "")
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def expected(row: Row, policy: str) -> dict[str, Outcome]:
    """The outcome for each caller: the row's own for `owner`, else the policy's."""
    if policy == "owner":
        assert row.access is not None, f"{row.id}: an owner route spells out who owns what"
        return dict(row.access)
    assert row.access is None, f"{row.id}: {policy!r} says who may; the row must not"
    if policy == "public":
        return dict.fromkeys(CALLERS, OK)
    if policy == "authenticated":
        return access(SIGNED_IN)
    assert policy.startswith("permission:"), f"{row.id}: unknown policy {policy!r}"
    needed = policy.removeprefix("permission:")
    holders = {
        c for c, r in ROLE_OF.items() if needed in BUILTIN_ROLES[r] or ALL in BUILTIN_ROLES[r]
    }
    return access(holders)


def coverage_problems(ops: Iterable[tuple[str, str]], rows: Iterable[Row]) -> list[str]:
    keys = [(r.method, r.path) for r in rows]
    ops = set(ops)
    return (
        [f"{m} {p}: a row twice" for m, p in sorted({k for k in keys if keys.count(k) > 1})]
        + [f"{m} {p}: no row in the matrix" for m, p in sorted(ops - set(keys))]
        + [f"{m} {p}: a row, but no such operation" for m, p in sorted(set(keys) - ops)]
    )


def test_every_operation_has_a_row(app: FastAPI) -> None:
    assert coverage_problems(operations(app), ROWS) == []


def test_the_check_catches_an_operation_without_a_row(app: FastAPI) -> None:
    ops = set(operations(app))
    assert coverage_problems(ops | {("GET", "/api/v1/new")}, ROWS) == [
        "GET /api/v1/new: no row in the matrix"
    ]
    assert coverage_problems(ops - {("GET", "/healthz")}, ROWS) == [
        "GET /healthz: a row, but no such operation"
    ]


def _fill(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def _refresh_token(w: World, caller: str) -> str:
    email = w.emails[caller]
    response = await w.client.post(
        API + "/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["refresh_token"]
    return token


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_access(world: World, app: FastAPI, row: Row) -> None:
    policies = operations(app)
    assert (row.method, row.path) in policies, f"{row.id}: no such operation"
    outcomes = expected(row, policies[row.method, row.path])
    ids = dict(world.ids)
    if row.fresh is not None:
        ids |= await row.fresh(world)
    # The refused first, on the untouched object; then those who may.
    order = sorted(CALLERS, key=lambda c: outcomes[c] == OK)
    wrong = []
    for caller in order:
        values = ids | {"caller": caller, "email": world.emails[caller]}
        if "{refresh_token}" in str(row.json):
            values["refresh_token"] = await _refresh_token(world, caller)
        kwargs: dict[str, Any] = {}
        if row.upload:
            kwargs = {"files": png_file(), "data": PRODUCT}
        elif row.json is not None:
            kwargs = {"json": _fill(row.json, values)}
        response = await world.call(caller, row.method, row.path.format_map(values), **kwargs)
        want = outcomes[caller]
        status = response.status_code
        if not (granted(status) if want == OK else status == want):
            wrong.append(f"{caller}: {status} (want {want}) {response.text[:160]}")
    assert wrong == [], f"{row.id}\n" + "\n".join(wrong)
