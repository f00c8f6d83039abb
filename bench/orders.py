"""Checkout benchmark: `POST /orders` with 2 lines, 50 concurrent buyers, on PostgreSQL.

A fresh database seeded with `loumo seed --scale 1000`; 50 verified buyers with an address and
a phone; two variants (in two shops) with a limited stock, so that the run sells out and the
refusals (409) show that nothing is oversold. wrk runs 3 s unmeasured first (a warm server),
then for BENCH_DURATION seconds. After the run the table gets one more line:
units in orders against units taken from stock. Run alone with `python -m bench.orders`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass

import asyncpg
import orjson

from bench.catalog import _analyze
from bench.harness import Result, fresh_database, plain_dsn, print_table, rss_mb, run_wrk, server

BUYERS = 50
STOCK = int(os.environ.get("BENCH_ORDERS_STOCK", "4000"))
WARMUP_SECONDS = 3
SECRET = "bench-secret-key-that-is-long-enough-0123456789"

LUA = """
local tokens = %(tokens)s
local body = %(body)s
local counter = 0
function setup(thread)
  thread:set("tid", "%(run)s-" .. tostring(math.random(1, 1000000000)))
end
request = function()
  counter = counter + 1
  local token = tokens[(counter %% #tokens) + 1]
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = tid .. "-" .. counter,
  }
  return wrk.format("POST", "/api/v1/orders", headers, body[(counter %% #tokens) + 1])
end
"""


@dataclass
class Prepared:
    url: str
    tokens: list[str]
    bodies: list[str]
    stock: list[tuple[str, str]]


async def _buyers(url: str) -> Prepared:
    """Buyers, addresses and sessions made with the app's own models; two stocked variants."""
    from sqlalchemy import select, update

    import loumo.models  # noqa: F401  (every table, so that foreign keys resolve)
    from loumo.accounts.models import Address, AuthSession, User, UserRole
    from loumo.core import security
    from loumo.core.db import Database, utcnow
    from loumo.shops.models import Shop, Stock
    from loumo.zones.models import Zone

    database = Database(url)
    tokens, bodies = [], []
    async with database.sessionmaker() as session:
        shops = list(await session.scalars(select(Shop).order_by(Shop.id).limit(2)))
        lines = []
        for shop in shops:
            variant_id = await session.scalar(
                select(Stock.variant_id).where(Stock.shop_id == shop.id).order_by(Stock.variant_id)
            )
            await session.execute(
                update(Stock)
                .where(Stock.shop_id == shop.id, Stock.variant_id == variant_id)
                .values(quantity=STOCK, reserved=0)
            )
            lines.append((shop.id, str(variant_id)))
        # An address its zone covers (as one saved through the API is): checkout keeps it
        # in its zone without looking for another.
        zone = await session.get(Zone, shops[0].zone_id)
        locality = next(iter(zone.localities or []), "Bastos") if zone else "Bastos"
        hashed = security.password_hasher.hash("bench-password-2026")
        for n in range(BUYERS):
            user = User(
                email=f"buyer{n}@bench.example",
                name=f"Buyer {n}",
                phone="+237650000000",
                password_hash=hashed,
                email_verified_at=utcnow(),
            )
            session.add(user)
            await session.flush()
            session.add(UserRole(user_id=user.id, role="customer"))
            address = Address(
                user_id=user.id,
                label="Home",
                street="Rue 1",
                locality=locality,
                zone_id=shops[0].zone_id,
            )
            auth = AuthSession(user_id=user.id)
            session.add_all([address, auth])
            await session.flush()
            tokens.append(security.create_access_token(SECRET, user.id, auth.id))
            body = {
                "items": [
                    {"variant_id": variant, "shop_id": shop, "quantity": 1}
                    for shop, variant in lines
                ],
                "address_id": address.id,
                "payment_method": "mobile_money",
            }
            bodies.append(orjson.dumps(body).decode())
        await session.commit()
    await database.dispose()
    return Prepared(url, tokens, bodies, lines)


def prepare() -> Prepared:
    url = fresh_database("loumo_bench_orders")
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "loumo", "migrate"], env=env, check=True)
    subprocess.run([sys.executable, "-m", "loumo", "seed", "--scale", "1000"], env=env, check=True)
    prepared = asyncio.run(_buyers(url))
    asyncio.run(_analyze(plain_dsn(url)))
    return prepared


def _lua_list(values: list[str]) -> str:
    return "{" + ",".join(orjson.dumps(v).decode() for v in values) + "}"


async def _tally(url: str, lines: list[tuple[str, str]]) -> tuple[int, int, int, int]:
    """(orders, units in their items, units reserved in stock, stocks over-reserved plus
    holds left by checkouts)."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        orders = await connection.fetchval("SELECT count(*) FROM orders")
        units = await connection.fetchval("SELECT coalesce(sum(quantity), 0) FROM order_items")
        reserved = 0
        for shop, variant in lines:
            reserved += await connection.fetchval(
                "SELECT reserved FROM stocks WHERE shop_id = $1 AND variant_id = $2", shop, variant
            )
        oversold = await connection.fetchval(
            "SELECT count(*) FROM stocks WHERE reserved > quantity OR quantity < 0"
        )
        # Every checkout has ended: none may still hold stock outside an order.
        oversold += await connection.fetchval("SELECT count(*) FROM stock_holds")
    finally:
        await connection.close()
    return int(orders), int(units), int(reserved), int(oversold)


def _orders(base: str, prepared: Prepared, duration: int, name: str) -> Result:
    """One wrk run; its Idempotency-Keys start with a prefix of their own (wrk's Lua random
    numbers repeat from run to run: a second run would replay the first one's orders)."""
    script = LUA % {
        "tokens": _lua_list(prepared.tokens),
        "body": _lua_list(prepared.bodies),
        "run": uuid.uuid4().hex[:8],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        return run_wrk(name, f"{base}/api/v1/orders", duration=duration, script=handle.name)
    finally:
        os.unlink(handle.name)


def run(duration: int) -> list[Result]:
    prepared = prepare()
    env = {"SECRET_KEY": SECRET, "JOBS_IN_PROCESS": "false"}
    with server(prepared.url, env=env) as (base, pid):
        # A warm-up first, not measured: each process opens its pool's connections and each
        # connection prepares checkout's statements on first use, as a server in service has.
        _orders(base, prepared, WARMUP_SECONDS, "warm-up")
        result = _orders(base, prepared, duration, "POST /orders (2 lines, 50 buyers)")
        result.rss_mb = rss_mb(pid)
    orders, units, reserved, oversold = asyncio.run(_tally(prepared.url, prepared.stock))
    print(
        f"orders: {orders} created, {units} units in them, {reserved} units taken from stock "
        f"(of {STOCK * len(prepared.stock)}), over-reserved stocks and holds left: {oversold}; "
        f"non-2xx answers are the clean 409s once sold out"
    )
    if units != reserved or oversold:
        raise SystemExit("bench: units sold and stock taken disagree")
    return [result]


def main() -> None:
    print_table(run(int(os.environ.get("BENCH_DURATION", "15"))))


if __name__ == "__main__":
    main()
