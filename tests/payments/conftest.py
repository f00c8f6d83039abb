"""Payments fixtures: the app served by a real uvicorn on a free port, which the pawaPay adapter
reaches over TCP (the sandbox is mounted on it) and to which the sandbox calls back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.settings import Settings
from loumo.payments.providers.pawapay import PawaPayProvider
from tests.factories import auth_headers
from tests.payments.support import Shop, open_shop


@pytest.fixture(scope="session")
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture
def sandbox(settings: Settings, live_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings under which pawaPay is the sandbox of the live server, completing at once."""
    monkeypatch.setattr(settings, "public_base_url", live_url)
    monkeypatch.setattr(settings, "pawapay_base_url", None)
    monkeypatch.setattr(settings, "pawapay_sandbox_callback_delay", 0.0)
    monkeypatch.setattr(settings, "pawapay_sandbox_slow_seconds", 3600.0)
    monkeypatch.setattr(settings, "pawapay_sandbox_hang_seconds", 1.5)
    monkeypatch.setattr(settings, "pawapay_timeout", 5.0)
    return settings


@pytest.fixture
def pawapay(sandbox: Settings) -> PawaPayProvider:
    return PawaPayProvider.from_settings(sandbox)


@pytest.fixture
async def shop(client: httpx.AsyncClient, staff: dict[str, str]) -> Shop:
    return await open_shop(client, staff)


@dataclass
class Checkout:
    """What a paying test handles: the API client, the database, the sandbox settings, a shop
    and a signed-in buyer."""

    client: httpx.AsyncClient
    db: AsyncSession
    settings: Settings
    shop: Shop
    customer: User
    headers: dict[str, str]

    def parts(
        self,
    ) -> tuple[httpx.AsyncClient, AsyncSession, Settings, Shop, User, dict[str, str]]:
        return self.client, self.db, self.settings, self.shop, self.customer, self.headers


@pytest.fixture
async def checkout(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: AsyncSession,
    sandbox: Settings,
    shop: Shop,
    customer: User,
) -> Checkout:
    return Checkout(client, db, sandbox, shop, customer, await auth_headers(app, customer))
