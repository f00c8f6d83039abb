"""Anonymous product reads are kept per process for PUBLIC_READ_CACHE_SECONDS: a commit in this
process drops the copies at once, another process's writes show once they expire, and signed-in
callers are never served a copy."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.util import greenlet_spawn

from loumo.catalog import listing
from loumo.core.db import Database, commit_count
from loumo.core.http_cache import RecentReads
from tests.factories import make_category, make_product


async def _write_elsewhere(database: Database, sql: str) -> None:
    """A write this process's SQLAlchemy never sees commit, as another API process's would be."""
    raw = await database.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute(sql)
        if database.engine.dialect.name == "sqlite":
            await driver.commit()
    finally:
        await greenlet_spawn(raw.close)


async def test_copies_last_their_time_unless_this_process_commits(
    app: FastAPI, client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    category = await make_category(client, staff, "Épices")
    product = await make_product(client, staff, category["id"], name_fr="Poivre")
    url = f"/api/v1/products/{product['id']}"
    listing = "/api/v1/products?q=poivre"
    first, first_page = await client.get(url), await client.get(listing)
    assert first.json()["name_fr"] == "Poivre"

    rename = f"UPDATE products SET name_fr = 'Sel' WHERE id = '{product['id']}'"
    await _write_elsewhere(app.state.db, rename)
    kept, kept_page = await client.get(url), await client.get(listing)
    assert kept.json()["name_fr"] == "Poivre" and kept.headers["etag"] == first.headers["etag"]
    # Answered before routing, still through every other layer.
    assert kept.headers["x-request-id"] != first.headers["x-request-id"]
    assert kept.headers["x-content-type-options"] == "nosniff"
    assert {k: v for k, v in kept.headers.items() if k not in ("x-request-id", "date")} == {
        k: v for k, v in first.headers.items() if k not in ("x-request-id", "date")
    }
    assert kept_page.content == first_page.content
    assert (
        await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    ).status_code == 304
    # Staff read the database itself.
    assert (await client.get(url, headers=staff)).json()["name_fr"] == "Sel"

    recent: RecentReads = app.state.recent_reads
    clock = recent.clock
    recent.clock = lambda: clock() + recent.seconds + 1
    try:
        expired = await client.get(url)
        assert expired.json()["name_fr"] == "Sel"
        assert expired.headers["etag"] != first.headers["etag"]
        assert [p["name_fr"] for p in (await client.get(listing)).json()["items"]] == ["Sel"]
    finally:
        recent.clock = clock

    # A write committed in this process shows at once.
    assert (await client.get(url)).json()["name_fr"] == "Sel"
    changed = await client.patch(url, json={"name_fr": "Poivre gris"}, headers=staff)
    assert changed.status_code == 200
    assert (await client.get(url)).json()["name_fr"] == "Poivre gris"
    assert [p["name_fr"] for p in (await client.get(listing)).json()["items"]] == ["Poivre gris"]


def test_the_oldest_copy_goes_first_when_full() -> None:
    recent = RecentReads(seconds=1.0, entries=2)
    for key in ("a", "b", "c"):
        recent.put(key, commit_count(), key.encode(), f'W/"{key}"')
    assert recent.get("a") is None
    assert recent.get("b") == (b"b", 'W/"b"')
    assert recent.get("c") == (b"c", 'W/"c"')


async def test_concurrent_anonymous_reads_of_one_url_run_its_queries_once(
    client: httpx.AsyncClient, staff: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    category = await make_category(client, staff, "Épices")
    product = await make_product(client, staff, category["id"], name_fr="Poivre")
    url = f"/api/v1/products/{product['id']}"
    calls = 0
    release = asyncio.Event()
    read = listing.get_product

    async def held(*args: Any, **kwargs: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await release.wait()
        return await read(*args, **kwargs)

    monkeypatch.setattr(listing, "get_product", held)
    requests = [asyncio.create_task(client.get(url)) for _ in range(5)]
    for _ in range(500):  # every request reaches the route (no I/O before it for anonymous)
        await asyncio.sleep(0)
    release.set()
    answers = await asyncio.gather(*requests)
    assert calls == 1
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1


async def test_a_failed_read_is_not_kept(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        missing = await client.get("/api/v1/products/nothing-here")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
