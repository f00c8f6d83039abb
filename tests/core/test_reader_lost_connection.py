"""The hot read path (`core.reads.Reader`, on the asyncpg connection itself): a connection whose
protocol broke when the server went away mid-operation (asyncpg's `InternalClientError`, seen
in the PostgreSQL-stopped fault test) is a lost connection: a clean 503 to retry, and dropped
from the pool, never a 500 and never handed to the next request."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest


async def test_a_broken_connection_is_a_503_and_leaves_the_pool(
    client: httpx.AsyncClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the driver-level read path runs on PostgreSQL")
    fetch = asyncpg.Connection.fetch
    broken: list[asyncpg.Connection] = []

    async def fails_once(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        if not broken:
            broken.append(self)
            raise asyncpg.InternalClientError(
                "cannot switch to state 11; another operation (2) is in progress"
            )
        return await fetch(self, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "fetch", fails_once)
    first = await client.get("/api/v1/products")
    assert first.status_code == 503, first.text
    assert first.json()["code"] == "database_unavailable"
    assert broken and broken[0].is_closed()
    again = await client.get("/api/v1/products")
    assert again.status_code == 200, again.text
