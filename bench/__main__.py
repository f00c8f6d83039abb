"""`make bench`: DESIGN.md's table, naming the machine and the datasets.

Runs, in order: `GET /healthz` through every middleware, the catalog reads at 1,000, 10,000 and
100,000 products (`bench/catalog.py`), checkout (`bench/orders.py`), each on one
`loumo serve --workers N` (BENCH_WORKERS, 2 by default) on PostgreSQL; then the cluster run
(`bench/cluster.py`: 3 API processes behind HAProxy, on the catalog's databases). BENCH_DURATION
(seconds) shortens every run; BENCH_CLUSTER=0 skips the cluster.
"""

from __future__ import annotations

import os

from bench import catalog, cluster, orders
from bench.harness import Result, fresh_database, machine, print_table, rss_mb, run_wrk, server


def health(duration: int) -> list[Result]:
    with server(fresh_database("loumo_bench_health")) as (base, pid):
        result = run_wrk("GET /healthz (all middleware)", f"{base}/healthz", duration=duration)
        result.rss_mb = rss_mb(pid)
    return [result]


def main() -> None:
    duration = int(os.environ.get("BENCH_DURATION", "15"))
    print(f"machine: {machine()}", flush=True)
    # One process (`loumo serve --workers N`).
    results = health(duration)
    catalog_results, datasets, databases = catalog.run(duration)
    results += catalog_results
    results += orders.run(duration)
    print()
    print("datasets: " + "; ".join(datasets) + "; checkout: its own (bench/orders.py)")
    print_table(results)
    catalog.print_ratio(results)
    if os.environ.get("BENCH_CLUSTER", "1") != "0":
        # The cluster: API processes behind the proxy, workers, shared Redis, RabbitMQ and S3.
        cluster_results = cluster.run(duration, databases)
        print()
        print(f"cluster: {cluster.API_PROCESSES} `loumo serve` processes behind HAProxy")
        print_table(cluster_results, workers=1)


if __name__ == "__main__":
    main()
