"""Processes of the loopback cluster killed with `kill -9` under load lose nothing.

1. An API process killed while buyers place orders through the proxy: every acknowledged (201)
   order exists, the orders and the stock taken match exactly (once the units its checkouts
   held are given back, as the `stock.release_holds` job does), nothing is oversold, and a
   retry with the same Idempotency-Key (after a failure, and again after the run) never makes
   a second order.
2. A job worker killed while it runs jobs: each of its jobs is delivered again and completed by
   the other worker, and every job's effect is made exactly once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from loumo.accounts.models import Address, AuthSession
from loumo.core import security
from loumo.core.db import Database, utcnow
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.outbox import defer
from loumo.orders.models import Order, OrderItem
from loumo.shops import reservations
from loumo.shops.models import Stock, StockHold
from ops.cluster import Cluster
from tests.cluster.conftest import SLOW_JOB_SECONDS
from tests.conftest import PROCESS_DEADLINE
from tests.factories import create_user, make_category, make_product, make_shop, make_zone

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

API = "/api/v1"
STOCK, BUYERS, CONCURRENCY = 40, 80, 24
KILL_AFTER = 8  # acknowledged orders before the kill
RETRYABLE = {502, 503, 504}  # the proxy's answers for a request its server died with


def _headers(cluster: Cluster, user_id: str, session_id: str) -> dict[str, str]:
    token = security.create_access_token(cluster.env["SECRET_KEY"], user_id, session_id)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Shop:
    shop_id: str
    variant: str
    buyers: list[tuple[dict[str, str], str, str]]  # (headers, address id, user id)


async def _open_shop(cluster: Cluster, db: Database) -> Shop:
    async with db.sessionmaker() as session:
        admin = await create_user(session, "admin")
        auth = AuthSession(user_id=admin.id)
        session.add(auth)
        await session.commit()
        staff = _headers(cluster, admin.id, auth.id)
    async with httpx.AsyncClient(base_url=cluster.url, timeout=PROCESS_DEADLINE) as client:
        zone = await make_zone(client, staff, delivery_fee=500)
        shop = await make_shop(client, staff, zone["id"])
        category = await make_category(client, staff, f"Food {uuid.uuid4().hex[:6]}")
        product = await make_product(client, staff, category["id"], name_fr="Riz", prices=(1000,))
        variant = product["variants"][0]["id"]
        stocked = await client.put(
            f"{API}/shops/{shop['id']}/stock/{variant}", json={"quantity": STOCK}, headers=staff
        )
        assert stocked.status_code == 200, stocked.text
    buyers = []
    async with db.sessionmaker() as session:
        for i in range(BUYERS):
            user = await create_user(session, "customer", phone=f"+23766{i:07d}")
            address = Address(
                user_id=user.id, label="Home", street="Rue 1", locality="Bastos", zone_id=zone["id"]
            )
            auth = AuthSession(user_id=user.id)
            session.add_all([address, auth])
            await session.flush()
            buyers.append((_headers(cluster, user.id, auth.id), address.id, user.id))
        await session.commit()
    return Shop(shop["id"], variant, buyers)


@dataclass
class Outcome:
    placed: dict[int, str] = field(default_factory=dict)  # buyer -> order id (201)
    sold_out: set[int] = field(default_factory=set)  # buyer -> 409 insufficient_stock
    failures: list[str] = field(default_factory=list)  # answers retried: 5xx, dropped connection
    in_flight: int = 0  # 409 idempotency_key_in_flight answers (a killed request's key)


async def _buy(
    client: httpx.AsyncClient, shop: Shop, i: int, key: str, outcome: Outcome
) -> httpx.Response:
    """Place buyer `i`'s order, retrying with the same key until a final answer."""
    headers, address_id, _ = shop.buyers[i]
    body = {
        "items": [{"variant_id": shop.variant, "shop_id": shop.shop_id, "quantity": 1}],
        "address_id": address_id,
    }
    deadline = time.monotonic() + PROCESS_DEADLINE
    while True:
        assert time.monotonic() < deadline, f"buyer {i}: no final answer; {outcome.failures[-3:]}"
        try:
            answer = await client.post(
                f"{API}/orders", json=body, headers={**headers, "Idempotency-Key": key}
            )
        except httpx.TransportError as exc:  # the connection died with the process
            outcome.failures.append(f"{i}: {type(exc).__name__}")
            await asyncio.sleep(0.2)
            continue
        if answer.status_code in RETRYABLE:
            outcome.failures.append(f"{i}: {answer.status_code}")
            await asyncio.sleep(0.2)
            continue
        if answer.status_code == 409 and answer.json()["code"] == "idempotency_key_in_flight":
            outcome.in_flight += 1
            await asyncio.sleep(0.5)
            continue
        return answer


async def _hold_request(url: str) -> asyncio.StreamReader:
    """A request on `url`'s process that cannot finish (its body is still coming): a request
    that is surely in flight there whatever the proxy's choices."""
    target = httpx.URL(url)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    writer.write(
        b"POST /api/v1/orders HTTP/1.1\r\nHost: loumo\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    await writer.drain()
    return reader


async def _died_with(reader: asyncio.StreamReader) -> bool:
    """True when the held request's connection ended with no answer (its process died)."""
    try:
        return await asyncio.wait_for(reader.read(), PROCESS_DEADLINE) == b""
    except ConnectionResetError:
        return True


async def test_an_api_process_killed_under_order_load_loses_no_order_and_oversells_nothing(
    cluster: Cluster,
) -> None:
    db = Database(cluster.database_url)
    try:
        shop = await _open_shop(cluster, db)
        keys = [uuid.uuid4().hex for _ in range(BUYERS)]
        outcome = Outcome()
        victim = cluster.api[1]
        killed = asyncio.Event()
        held: list[asyncio.StreamReader] = []
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=cluster.url, timeout=PROCESS_DEADLINE, limits=limits
        ) as client:

            async def buyer(i: int) -> None:
                answer = await _buy(client, shop, i, keys[i], outcome)
                if answer.status_code == 201:
                    outcome.placed[i] = answer.json()["id"]
                    if len(outcome.placed) >= KILL_AFTER and not killed.is_set():
                        killed.set()
                        assert victim.url
                        held.append(await _hold_request(victim.url))
                        victim.kill()  # kill -9, with requests in flight on it
                elif answer.status_code == 409 and answer.json()["code"] == "insufficient_stock":
                    outcome.sold_out.add(i)
                else:
                    raise AssertionError(f"buyer {i}: {answer.status_code} {answer.text}")

            await asyncio.gather(*(buyer(i) for i in range(BUYERS)))
            cluster.wait_dead(victim)
            assert killed.is_set()

            # Every acknowledged order, asked again with its key: the same order, replayed.
            for i, order_id in outcome.placed.items():
                again = await _buy(client, shop, i, keys[i], Outcome())
                assert again.status_code == 201, again.text
                assert again.json()["id"] == order_id
                assert again.headers["Idempotent-Replayed"] == "true"
            ready = await client.get("/readyz")  # the proxy serves on the processes left
            assert ready.status_code == 200, ready.text

        print(
            f"kill -9 of {victim.name}: {len(outcome.failures)} answers retried "
            f"({sorted({f.split(': ')[1] for f in outcome.failures})}), "
            f"{outcome.in_flight} waits for a dead request's key"
        )
        # The kill hit a request in flight (the held one, and often buyers', retried with their
        # keys: how many depends on the proxy's timing).
        assert await _died_with(held[0]), "the held request was answered: the process lived"
        async with db.sessionmaker() as session:
            # Units a checkout of the killed process held before writing its order: the
            # `stock.release_holds` job gives them back `STOCK_HOLD_SECONDS` later; here, at once
            # (every request has its final answer).
            orphaned = int(
                await session.scalar(select(func.coalesce(func.sum(StockHold.quantity), 0))) or 0
            )
            await reservations.release_stale(session, held_before=utcnow() + timedelta(seconds=1))
            await session.commit()
        print(f"units held by the killed process's checkouts: {orphaned}")
        assert len(outcome.placed) + orphaned == STOCK
        assert len(outcome.sold_out) == BUYERS - len(outcome.placed)
        async with db.sessionmaker() as session:
            orders = list(await session.scalars(select(Order)))
            units = await session.scalar(select(func.coalesce(func.sum(OrderItem.quantity), 0)))
            quantity, reserved = (
                await session.execute(
                    select(Stock.quantity, Stock.reserved).where(
                        Stock.shop_id == shop.shop_id, Stock.variant_id == shop.variant
                    )
                )
            ).one()
        assert {o.id for o in orders} == set(outcome.placed.values())  # none lost, none extra
        by_buyer = {shop.buyers[i][2]: order_id for i, order_id in outcome.placed.items()}
        assert {o.user_id: o.id for o in orders} == by_buyer  # one order per buyer
        placed = len(outcome.placed)
        assert (quantity, reserved, units) == (STOCK, placed, placed)  # not oversold, none lost
    finally:
        await db.dispose()


async def test_a_worker_killed_mid_job_loses_no_job(cluster: Cluster, tmp_path: Path) -> None:
    db = Database(cluster.database_url)
    count = 6
    try:
        async with db.sessionmaker() as session:
            jobs = [
                await defer(
                    session,
                    "test.cluster_slow",
                    {"dir": str(tmp_path), "key": f"parcel-{n}", "sleep": SLOW_JOB_SECONDS},
                )
                for n in range(count)
            ]
            await session.commit()
        ids = {job.id for job in jobs}
        runs = tmp_path / "runs.log"

        def lines() -> list[tuple[str, int, int]]:
            if not runs.exists():
                return []
            parsed = (line.split() for line in runs.read_text().splitlines())
            return [(job_id, int(attempt), int(pid)) for job_id, attempt, pid in parsed]

        deadline = time.monotonic() + PROCESS_DEADLINE
        while not lines():  # the first job started: its worker is the victim
            assert time.monotonic() < deadline, "no job started"
            await asyncio.sleep(0.05)
        victim_pid = lines()[0][2]
        (victim,) = [w for w in cluster.workers if w.pid == victim_pid]
        (survivor,) = [w for w in cluster.workers if w.pid != victim_pid]
        victim.kill()
        cluster.wait_dead(victim)

        async def statuses() -> dict[str, tuple[str, int]]:
            async with db.sessionmaker() as session:
                rows = await session.execute(
                    select(Job.id, Job.status, Job.attempts).where(Job.id.in_(ids))
                )
                return {job_id: (status, attempts) for job_id, status, attempts in rows}

        while any(status != JobStatus.SUCCEEDED for status, _ in (await statuses()).values()):
            assert survivor.alive(), "the other worker died too"
            assert time.monotonic() < deadline, f"jobs left undone: {await statuses()}"
            await asyncio.sleep(0.2)

        done = await statuses()
        log = lines()
        on_victim = {job_id for job_id, _, pid in log if pid == victim.pid}
        assert on_victim, "the killed worker ran no job"
        for job_id in on_victim:  # each of its jobs ran again, on the other worker, to the end
            assert done[job_id][1] >= 2
            assert any(j == job_id and a >= 2 and p == survivor.pid for j, a, p in log), job_id
        effects = (tmp_path / "effects.log").read_text().split()
        assert sorted(effects) == sorted(f"parcel-{n}" for n in range(count))  # each once
    finally:
        await db.dispose()
