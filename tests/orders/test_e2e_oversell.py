"""End to end over TCP: concurrent `POST /orders` against real `loumo serve` processes never
oversell stock nor a promotion's uses, and every refusal is a clean 409.

On PostgreSQL (`DATABASE_URL=postgresql+asyncpg://...`), two processes share one fresh database;
on SQLite, one process (a SQLite file is not shared by several servers). 200 orders of one unit
race for 25 in stock: exactly 25 are placed, 175 are `insufficient_stock` problem documents, none
is a 5xx, and the stock is left 0 available and 25 reserved. Then 20 orders race for a code
limited to 5 uses: exactly 5 hold it.

Customers, their addresses and sign-in sessions are rows made directly (an Argon2 login each
would take minutes on a loaded machine); the catalog is made over HTTP by an admin.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.conftest import PROCESS_DEADLINE, empty_database
from tests.factories import create_user, make_category, make_product, make_shop, make_zone
from tests.servers import serving

from loumo.accounts.models import Address, AuthSession
from loumo.core import security
from loumo.core.db import Database
from loumo.core.migrations import upgrade_async
from loumo.orders.models import Order
from loumo.promotions.models import Promotion, PromotionRedemption
from loumo.shops.models import Stock

pytestmark = pytest.mark.e2e

API = "/api/v1"
SECRET_KEY = "e2e-oversell-secret-key-0123456789-abcdefghij"
STOCK, BUYERS = 25, 200
PROMO_ORDERS, PROMO_USES = 20, 5
ON_POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith("postgresql")


@dataclass
class Market:
    bases: list[str]
    db: Database
    shop_id: str
    scarce: str  # the variant with 25 in stock
    plenty: str  # a variant with enough for every promotion order
    buyers: list[tuple[dict[str, str], str]]  # (headers, address id)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def market(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Market]:
    """The servers (one on SQLite, two on PostgreSQL), their database, a shop and 200 buyers."""
    if request.param == "postgresql" and not ON_POSTGRESQL:
        pytest.skip(
            "two processes need one database server: run with "
            "DATABASE_URL=postgresql+asyncpg://... (a SQLite file is not shared by servers)"
        )
    if request.param == "sqlite" and ON_POSTGRESQL:
        pytest.skip("the one-process SQLite race runs when DATABASE_URL is unset (SQLite)")
    workdir = tmp_path_factory.mktemp("e2e-oversell")
    async with empty_database(workdir) as url:
        await upgrade_async(url)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "VAR_DIR": str(workdir / "var"),
            "MAIL_DIR": str(workdir / "mail"),
            "ENVIRONMENT": "development",
            "SECRET_KEY": SECRET_KEY,
            "JOBS_IN_PROCESS": "false",  # the receipts' mail jobs wait; the race is the test
            "LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        env.pop("BROKER_URL", None)
        db = Database(url)
        try:
            with serving(2 if ON_POSTGRESQL else 1, env, workdir) as bases:
                yield await _open_market(db, bases)
        finally:
            await db.dispose()


def _headers(user_id: str, session_id: str) -> dict[str, str]:
    token = security.create_access_token(SECRET_KEY, user_id, session_id)
    return {"Authorization": f"Bearer {token}"}


async def _open_market(db: Database, bases: list[str]) -> Market:
    async with db.sessionmaker() as session:
        admin = await create_user(session, "admin")
        auth = AuthSession(user_id=admin.id)
        session.add(auth)
        await session.commit()
        staff = _headers(admin.id, auth.id)
    async with httpx.AsyncClient(base_url=bases[0], timeout=PROCESS_DEADLINE) as client:
        zone = await make_zone(client, staff, delivery_fee=500)
        shop = await make_shop(client, staff, zone["id"])
        category = await make_category(client, staff, f"Food {uuid.uuid4().hex[:6]}")
        product = await make_product(
            client, staff, category["id"], name_fr="Riz", prices=(1000, 2000)
        )
        scarce, plenty = (v["id"] for v in product["variants"])
        for variant, quantity in ((scarce, STOCK), (plenty, 10 * PROMO_ORDERS)):
            stocked = await client.put(
                f"{API}/shops/{shop['id']}/stock/{variant}",
                json={"quantity": quantity},
                headers=staff,
            )
            assert stocked.status_code == 200, stocked.text
    buyers = []
    async with db.sessionmaker() as session:
        for i in range(BUYERS):
            user = await create_user(session, "customer", phone=f"+23765{i:07d}")
            address = Address(
                user_id=user.id, label="Home", street="Rue 1", locality="Bastos", zone_id=zone["id"]
            )
            auth = AuthSession(user_id=user.id)
            session.add_all([address, auth])
            await session.flush()
            buyers.append((_headers(user.id, auth.id), address.id))
        session.add(Promotion(code="FIVE", kind="fixed", value=100, max_uses=PROMO_USES))
        await session.commit()
    return Market(bases, db, shop["id"], scarce, plenty, buyers)


async def _race(market: Market, count: int, item: dict[str, Any], **more: Any) -> Counter[Any]:
    """`count` buyers each send one order at once, spread over every server; the answers'
    statuses (and, for 409s, codes) counted."""
    clients = [
        httpx.AsyncClient(
            base_url=base,
            timeout=PROCESS_DEADLINE,
            limits=httpx.Limits(max_connections=count, max_keepalive_connections=count),
        )
        for base in market.bases
    ]

    async def one(i: int) -> httpx.Response:
        headers, address_id = market.buyers[i]
        body = {"items": [item], "address_id": address_id, **more}
        client = clients[i % len(clients)]
        key = {"Idempotency-Key": uuid.uuid4().hex}
        return await client.post(f"{API}/orders", json=body, headers={**headers, **key})

    try:
        answers = await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        for client in clients:
            await client.aclose()
    failures = [a.text for a in answers if a.status_code >= 500]
    assert not failures, failures[:3]
    outcomes: Counter[Any] = Counter()
    for answer in answers:
        if answer.status_code == 409:
            assert answer.headers["content-type"].startswith("application/problem+json")
            outcomes[(409, answer.json()["code"])] += 1
        else:
            outcomes[answer.status_code] += 1
    return outcomes


async def _stock(market: Market, variant: str) -> tuple[int, int]:
    async with market.db.sessionmaker() as session:
        row = (
            await session.execute(
                select(Stock.quantity, Stock.reserved).where(
                    Stock.shop_id == market.shop_id, Stock.variant_id == variant
                )
            )
        ).one()
    return int(row[0]), int(row[1])


async def test_200_orders_for_25_units_place_exactly_25(market: Market) -> None:
    assert len(market.bases) == (2 if ON_POSTGRESQL else 1)
    item = {"variant_id": market.scarce, "shop_id": market.shop_id, "quantity": 1}
    outcomes = await _race(market, BUYERS, item)
    assert outcomes == {201: STOCK, (409, "insufficient_stock"): BUYERS - STOCK}
    quantity, reserved = await _stock(market, market.scarce)
    assert (quantity - reserved, reserved) == (0, STOCK)  # 0 available, none oversold
    async with market.db.sessionmaker() as session:
        placed = await session.scalar(
            select(func.count()).select_from(Order).where(Order.promo_code.is_(None))
        )
    assert placed == STOCK


async def test_20_orders_for_a_code_of_5_uses_give_it_to_5(market: Market) -> None:
    item = {"variant_id": market.plenty, "shop_id": market.shop_id, "quantity": 1}
    outcomes = await _race(market, PROMO_ORDERS, item, promo_code="FIVE")
    assert outcomes == {201: PROMO_USES, (409, "promotion_unavailable"): PROMO_ORDERS - PROMO_USES}
    async with market.db.sessionmaker() as session:
        uses = await session.scalar(select(Promotion.uses_count).where(Promotion.code == "FIVE"))
        held = await session.scalar(select(func.count()).select_from(PromotionRedemption))
    assert (uses, held) == (PROMO_USES, PROMO_USES)
    assert await _stock(market, market.plenty) == (10 * PROMO_ORDERS, PROMO_USES)
