"""`loumo create-admin` and `loumo seed --demo`: idempotent, refusing weak passwords."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from loumo.accounts.models import User, UserRole
from loumo.cli import app as cli
from loumo.core.settings import get_settings
from tests.factories import count

API = "/api/v1"


async def invoke(runner: CliRunner, args: list[str]) -> Result:
    """Run the command in a thread: it runs its own event loop, as from a shell."""
    return await asyncio.to_thread(runner.invoke, cli, args)


@pytest.fixture
def runner(app: FastAPI, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner pointed at the test database (`app` so that tables are emptied after)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", app.state.secret_key)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def test_create_admin_is_idempotent_and_refuses_weak_passwords(
    runner: CliRunner, db: AsyncSession, client: httpx.AsyncClient
) -> None:
    weak = await invoke(runner, ["create-admin", "--email", "boss@example.com", "--password", "x"])
    assert weak.exit_code == 2 and "too weak" in weak.output
    bad = await invoke(
        runner,
        ["create-admin", "--email", "b\u043ess@example.com", "--password", "long-enough-pw-1"],
    )
    assert bad.exit_code == 2
    assert await count(db, User) == 0

    args = ["create-admin", "--email", "Boss@Example.com", "--password", "long-enough-pw-1"]
    first = await invoke(runner, args)
    assert first.exit_code == 0, first.output
    assert "created" in first.output
    second = await invoke(runner, args)
    assert second.exit_code == 0 and "already exists" in second.output
    assert await count(db, User) == 1
    assert list(await db.scalars(select(UserRole.role))) == ["admin"]

    login = await client.post(
        f"{API}/auth/login", json={"email": "boss@example.com", "password": "long-enough-pw-1"}
    )
    assert login.status_code == 200


def _demo_users(output: str) -> list[list[str]]:
    lines = output.splitlines()
    start = lines.index("loumo: demo users (email / password):")
    return [line.split() for line in lines[start + 1 :]]


async def test_seed_demo_creates_one_user_per_role_once(
    runner: CliRunner, db: AsyncSession, client: httpx.AsyncClient
) -> None:
    first = await invoke(runner, ["seed", "--demo"])
    assert first.exit_code == 0, first.output
    again = await invoke(runner, ["seed", "--demo"])
    assert again.exit_code == 0 and _demo_users(again.output) == _demo_users(first.output)
    roles = sorted(await db.scalars(select(UserRole.role)))
    assert roles == sorted(["customer", "shop_manager", "delivery_agent", "support", "admin"])
    for _role, email, password in _demo_users(first.output):
        login = await client.post(f"{API}/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, email
    assert (await invoke(runner, ["seed"])).exit_code == 2


async def test_create_admin_on_a_squatted_address_replaces_the_squatters_password(
    runner: CliRunner, db: AsyncSession, client: httpx.AsyncClient
) -> None:
    """Issue 10, item 6: someone registered the future admin's address first; promoting that
    account must not make their password an admin's."""
    squatter = {"name": "Mallory", "email": "boss@example.com", "password": "squatters-phrase-1"}
    assert (await client.post(f"{API}/auth/register", json=squatter)).status_code == 202
    login = {"email": "boss@example.com", "password": "squatters-phrase-1"}
    session = (await client.post(f"{API}/auth/login", json=login)).json()
    args = ["create-admin", "--email", "boss@example.com", "--password", "long-enough-pw-1"]
    assert (await invoke(runner, args)).exit_code == 0
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    assert (await client.get(f"{API}/me", headers=bearer)).status_code == 401
    assert (await client.post(f"{API}/auth/login", json=login)).status_code == 401
    owner = {"email": "boss@example.com", "password": "long-enough-pw-1"}
    tokens = (await client.post(f"{API}/auth/login", json=owner)).json()
    users = await client.get(
        f"{API}/users", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert users.status_code == 200
