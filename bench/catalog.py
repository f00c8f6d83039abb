"""Catalog benchmarks: product listing and detail at 1,000, 10,000 and 100,000 products.

Each size gets its own PostgreSQL database, seeded with `loumo seed --scale N` (3 variants per
product, stocked in 5 shops; COPY, so 100,000 products take about a minute). Each size is
measured as served (anonymous reads kept per process for PUBLIC_READ_CACHE_SECONDS) and with
that cache off, which shows the database read path itself; the listing p50 ratio, largest over
smallest catalog, is the cache-off one (a copy's cost does not depend on the catalog's size).
Run alone with `python -m bench.catalog`; BENCH_DURATION shortens a run and
BENCH_CATALOG_SIZES (e.g. "1000,100000") picks the sizes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from bench.harness import (
    Result,
    dataset,
    fresh_database,
    machine,
    plain_dsn,
    print_table,
    rss_mb,
    run_wrk,
    server,
)

SIZES = tuple(int(n) for n in os.environ.get("BENCH_CATALOG_SIZES", "1000,10000,100000").split(","))
UNCACHED = " (no read cache)"
# Products the third detail row spreads its requests over.
RANDOM_IDS = 1000


def prepare(size: int) -> str:
    """A fresh database with `size` products, vacuumed and analysed; returns its URL."""
    url = fresh_database(f"loumo_bench_catalog_{size}")
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "loumo", "migrate"], env=env, check=True)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "loumo", "seed", "--scale", str(size)], env=env, check=True
    )
    print(f"bench: seeded {size:,} products in {time.monotonic() - started:.0f} s", flush=True)
    asyncio.run(_analyze(plain_dsn(url)))
    return url


async def _analyze(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def _measure(size: int, database_url: str, *, duration: int, cache: bool) -> list[Result]:
    env = None if cache else {"PUBLIC_READ_CACHE_SECONDS": "0"}
    suffix = "" if cache else UNCACHED
    results: list[Result] = []
    with server(database_url, env=env) as (base, pid):
        listing = f"{base}/api/v1/products?limit=20"
        first = httpx.get(listing, timeout=10).json()["items"]
        assert len(first) == 20 and all(len(p["variants"]) == 3 for p in first)
        detail = f"{base}/api/v1/products/{first[0]['id']}"
        script = _random_details_script(database_url)
        for name, url, lua in (
            (f"GET /products?limit=20 ({size:,}){suffix}", listing, None),
            (f"GET /products/{{id}} ({size:,}){suffix}", detail, None),
            (
                f"GET /products/{{id}}, {RANDOM_IDS:,} ids at random ({size:,}){suffix}",
                base,
                script,
            ),
        ):
            result = run_wrk(name, url, duration=duration, script=lua)
            result.rss_mb = rss_mb(pid)
            results.append(result)
    return results


def _random_details_script(database_url: str) -> str:
    """A wrk script asking for the detail of RANDOM_IDS products at random: with the read cache
    on, the row above (one product) is all hits; this one shows a spread of products."""
    ids = asyncio.run(_product_ids(plain_dsn(database_url)))
    lines = ", ".join(f'"{product_id}"' for product_id in ids)
    script = Path(tempfile.mkdtemp(prefix="loumo-bench-")) / "random_details.lua"
    script.write_text(
        f"local ids = {{{lines}}}\n"
        "request = function()\n"
        '  return wrk.format("GET", "/api/v1/products/" .. ids[math.random(#ids)])\n'
        "end\n"
    )
    return str(script)


async def _product_ids(dsn: str) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id FROM products WHERE is_active ORDER BY random() LIMIT $1", RANDOM_IDS
        )
    finally:
        await connection.close()
    return [str(row["id"]) for row in rows]


def run(duration: int) -> tuple[list[Result], list[str], dict[int, str]]:
    """The catalog's rows of the table, one line per size describing its dataset, and the
    databases (size -> URL) for the cluster run to reuse."""
    results: list[Result] = []
    datasets: list[str] = []
    databases: dict[int, str] = {}
    for size in SIZES:
        databases[size] = database_url = prepare(size)
        datasets.append(f"catalog {size:,}: {dataset(database_url)}")
        results += _measure(size, database_url, duration=duration, cache=True)
        results += _measure(size, database_url, duration=duration, cache=False)
    return results, datasets, databases


def listing_ratio(results: list[Result]) -> float | None:
    """p50 of the listing (read cache off) at the largest size over the p50 at the smallest
    (target <= 1.5)."""
    listings = [
        r for r in results if r.name.startswith("GET /products?") and r.name.endswith(UNCACHED)
    ]
    if len(listings) < 2:
        return None
    return listings[-1].p50_ms / listings[0].p50_ms


def print_ratio(results: list[Result]) -> None:
    ratio = listing_ratio(results)
    if ratio is not None:
        print(
            f"listing p50 (no read cache), {SIZES[-1]:,} / {SIZES[0]:,} products: "
            f"{ratio:.2f} (target <= 1.5)"
        )


def main() -> None:
    print(f"machine: {machine()}", flush=True)
    results, datasets, _ = run(int(os.environ.get("BENCH_DURATION", "15")))
    print("\n".join(datasets))
    print_table(results)
    print_ratio(results)


if __name__ == "__main__":
    main()
