"""Fidelity points: a ledger awarded once per (order, reason); `/me` shows its sum."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.fidelity import award_points, balance
from loumo.accounts.models import FidelityEntry, User
from tests.factories import auth_headers

API = "/api/v1"


async def test_an_order_awards_once_per_reason(
    db: AsyncSession, customer: User, other_customer: User
) -> None:
    assert await balance(db, customer.id) == 0
    assert await award_points(db, customer.id, 40, order_id="order-1", reason="purchase")
    assert not await award_points(db, customer.id, 40, order_id="order-1", reason="purchase")
    assert await award_points(db, customer.id, 5, order_id="order-1", reason="first_order")
    assert await award_points(db, customer.id, 10, order_id="order-2", reason="purchase")
    assert await award_points(db, other_customer.id, 7, order_id="order-3", reason="purchase")
    await db.commit()

    assert await balance(db, customer.id) == 55
    assert await balance(db, other_customer.id) == 7
    rows = await db.scalars(select(FidelityEntry).where(FidelityEntry.user_id == customer.id))
    assert sorted((r.order_id, r.reason, r.points) for r in rows) == [
        ("order-1", "first_order", 5),
        ("order-1", "purchase", 40),
        ("order-2", "purchase", 10),
    ]


async def test_a_replayed_award_in_another_transaction_is_a_no_op(
    db: AsyncSession, app: FastAPI, customer: User
) -> None:
    assert await award_points(db, customer.id, 30, order_id="order-9", reason="purchase")
    await db.commit()
    async with app.state.db.sessionmaker() as other:
        assert not await award_points(other, customer.id, 30, order_id="order-9", reason="purchase")
        await other.commit()
    assert await balance(db, customer.id) == 30


async def test_an_award_is_positive(db: AsyncSession, customer: User) -> None:
    for points in (0, -5):
        with pytest.raises(ValueError, match="positive"):
            await award_points(db, customer.id, points, order_id="order-1", reason="purchase")


async def test_me_and_the_staff_view_show_the_ledger_balance(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, customer: User, admin: User
) -> None:
    await award_points(db, customer.id, 120, order_id="order-1", reason="purchase")
    await award_points(db, customer.id, 15, order_id="order-2", reason="purchase")
    db.add(FidelityEntry(user_id=customer.id, points=-35, reason="redeemed"))
    await db.commit()

    me = await client.get(f"{API}/me", headers=await auth_headers(app, customer))
    assert me.status_code == 200 and me.json()["fidelity_points"] == 100

    staff = await auth_headers(app, admin)
    one = await client.get(f"{API}/users/{customer.id}", headers=staff)
    assert one.status_code == 200 and one.json()["fidelity_points"] == 100
    listed = await client.get(f"{API}/users", headers=staff, params={"email": customer.email})
    assert [u["fidelity_points"] for u in listed.json()["items"]] == [100]
