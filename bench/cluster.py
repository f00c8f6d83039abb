"""Catalog reads through the loopback cluster's proxy (ops/cluster.py): product listing and detail
served by 3 `loumo serve` processes behind HAProxy, with 2 job workers, Redis and RabbitMQ, on
the catalog benchmark's dataset (`bench.catalog.prepare`).

Run alone with `python -m bench.cluster`; BENCH_DURATION shortens a run, BENCH_CLUSTER_SIZES
(default "1000") picks the catalog sizes and BENCH_CLUSTER_API the API processes (default 3).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench import catalog
from bench.harness import Result, print_table, rss_mb, run_wrk
from ops.cluster import ClusterConfig, running
from ops.loopback import free_port

SIZES = tuple(int(n) for n in os.environ.get("BENCH_CLUSTER_SIZES", "1000").split(","))
API_PROCESSES = int(os.environ.get("BENCH_CLUSTER_API", "3"))


def run(duration: int, databases: dict[int, str] | None = None) -> list[Result]:
    """The cluster's rows; `databases` (size -> URL) reuses catalogs already prepared."""
    results: list[Result] = []
    for size in SIZES:
        database_url = (databases or {}).get(size) or catalog.prepare(size)
        config = ClusterConfig(
            state_dir=Path(tempfile.mkdtemp(prefix="loumo-bench-cluster-")),
            api=API_PROCESSES,
            workers=2,
            proxy_port=free_port(),
            database=str(make_url(database_url).database),
            postgres_url=database_url,
            seed_demo=False,
            rate_limit_prefix=f"loumo-bench-cluster-{size}",
            jobs_queue=f"loumo.bench.cluster.{size}",
            s3_bucket=f"loumo-bench-{size}",
        )
        with running(config) as cluster:
            listing = f"{cluster.url}/api/v1/products?limit=20"
            first = httpx.get(listing, timeout=10).json()["items"]
            assert len(first) == 20 and all(len(p["variants"]) == 3 for p in first)
            detail = f"{cluster.url}/api/v1/products/{first[0]['id']}"
            for name, url in (
                (f"cluster: GET /products?limit=20 ({size:,})", listing),
                (f"cluster: GET /products/{{id}} ({size:,})", detail),
            ):
                result = run_wrk(name, url, duration=duration)
                result.rss_mb = max(rss_mb(p.pid) for p in cluster.api)
                results.append(result)
    return results


def main() -> None:
    print(f"cluster: {API_PROCESSES} `loumo serve` processes (1 worker each) behind HAProxy")
    print_table(run(int(os.environ.get("BENCH_DURATION", "15"))), workers=1)


if __name__ == "__main__":
    main()
