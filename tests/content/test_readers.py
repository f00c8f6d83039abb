"""Orders read their business settings through `content`: a value staff store wins over the
environment default, at checkout (payment timeout), in the completion job (delay and fidelity
rate) and when staff complete an order (fidelity rate)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import as_utc, utcnow
from loumo.core.settings import Settings
from loumo.orders.models import Order
from tests.content.conftest import API
from tests.orders.conftest import World, place, reload
from tests.orders.test_fidelity import (
    deliver,
    ledger,
    paid_order,
    points_on_me,
    run_completion_job,
)


async def put_setting(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, value: object
) -> None:
    response = await client.put(f"{API}/settings/{key}", json={"value": value}, headers=headers)
    assert response.status_code == 200, response.text


async def test_a_stored_payment_timeout_sets_when_new_orders_expire(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    settings: Settings,
    settings_staff: dict[str, str],
) -> None:
    before = await reload(db, (await place(client, world, (world.a1, world.shop_a, 1)))["id"])
    assert before.expires_at is not None
    default = as_utc(before.expires_at) - as_utc(before.created_at)
    assert default == settings.order_payment_timeout == timedelta(minutes=30)

    await put_setting(client, settings_staff, "order_payment_timeout", "PT2H")
    after = await reload(db, (await place(client, world, (world.a1, world.shop_a, 1)))["id"])
    assert after.expires_at is not None
    assert as_utc(after.expires_at) - as_utc(after.created_at) == timedelta(hours=2)


async def test_the_completion_job_uses_the_stored_delay_and_fidelity_rate(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    sandbox: Settings,
    settings_staff: dict[str, str],
) -> None:
    await put_setting(client, settings_staff, "order_complete_after", "PT1H")
    await put_setting(client, settings_staff, "fidelity_rate", "2.5")
    order, _ = await paid_order(client, world, db, sandbox, quantity=4)  # 6000 XAF of goods
    await deliver(client, world, db, order)
    await db.execute(
        update(Order)
        .where(Order.id == order["id"])
        .values(delivered_at=utcnow() - timedelta(hours=2))  # the default 24 h has not passed
    )
    await db.commit()
    await run_completion_job(db, sandbox)
    assert (await reload(db, order["id"])).status == "completed"
    assert await points_on_me(client, world) == 150  # 60 at the default rate of 1
    assert await ledger(db, order["id"]) == [("order_completed", 150)]


async def test_staff_completion_awards_at_the_stored_rate(
    client: httpx.AsyncClient,
    world: World,
    db: AsyncSession,
    sandbox: Settings,
    settings_staff: dict[str, str],
) -> None:
    await put_setting(client, settings_staff, "fidelity_rate", 0)
    order, _ = await paid_order(client, world, db, sandbox, quantity=2)  # 3000 XAF of goods
    await deliver(client, world, db, order)
    done = await client.post(
        f"{API}/orders/{order['id']}/transitions",
        json={"to": "completed"},
        headers=world.order_staff,
    )
    assert done.status_code == 200, done.text
    assert await points_on_me(client, world) == 0  # 30 at the default rate of 1
    assert await ledger(db, order["id"]) == []
