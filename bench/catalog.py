"""Catalog benchmarks: product listing and detail at 1,000 and 100,000 products on PostgreSQL.

Each size gets its own database, seeded with `loumo seed --scale N` (3 variants per product,
stocked in 5 shops). Run alone with `python -m bench.catalog`; BENCH_DURATION shortens a run and
BENCH_CATALOG_SIZES (e.g. "1000,100000") picks the sizes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import httpx

from bench.harness import Result, fresh_database, plain_dsn, print_table, rss_mb, run_wrk, server

SIZES = tuple(int(n) for n in os.environ.get("BENCH_CATALOG_SIZES", "1000,100000").split(","))


def prepare(size: int) -> str:
    """A fresh database with `size` products, vacuumed and analysed; returns its URL."""
    url = fresh_database(f"loumo_bench_catalog_{size}")
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "loumo", "migrate"], env=env, check=True)
    subprocess.run(
        [sys.executable, "-m", "loumo", "seed", "--scale", str(size)], env=env, check=True
    )
    asyncio.run(_analyze(plain_dsn(url)))
    return url


async def _analyze(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def run(duration: int) -> list[Result]:
    results: list[Result] = []
    for size in SIZES:
        database_url = prepare(size)
        with server(database_url) as (base, pid):
            listing = f"{base}/api/v1/products?limit=20"
            first = httpx.get(listing, timeout=10).json()["items"]
            assert len(first) == 20 and all(len(p["variants"]) == 3 for p in first)
            detail = f"{base}/api/v1/products/{first[0]['id']}"
            result = run_wrk(
                f"GET /products?limit=20 ({size:,} products)", listing, duration=duration
            )
            result.rss_mb = rss_mb(pid)
            results.append(result)
            result = run_wrk(f"GET /products/{{id}} ({size:,} products)", detail, duration=duration)
            result.rss_mb = rss_mb(pid)
            results.append(result)
    return results


def listing_ratio(results: list[Result]) -> float | None:
    """p50 of the listing at the largest size over the p50 at the smallest (target <= 1.5)."""
    listings = [r for r in results if r.name.startswith("GET /products?")]
    if len(listings) < 2:
        return None
    return listings[-1].p50_ms / listings[0].p50_ms


def main() -> None:
    results = run(int(os.environ.get("BENCH_DURATION", "15")))
    print_table(results)
    ratio = listing_ratio(results)
    if ratio is not None:
        print(
            f"listing p50 ratio, {SIZES[-1]:,} / {SIZES[0]:,} products: {ratio:.2f} (target <= 1.5)"
        )


if __name__ == "__main__":
    main()
