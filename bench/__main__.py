"""`make bench`: every benchmark, one table. BENCH_DURATION (seconds) shortens a run."""

from __future__ import annotations

import os

from bench import catalog, orders
from bench.harness import Result, fresh_database, print_table, rss_mb, run_wrk, server


def main() -> None:
    duration = int(os.environ.get("BENCH_DURATION", "15"))
    results: list[Result] = []
    with server(fresh_database("loumo_bench_health")) as (base, pid):
        result = run_wrk("GET /healthz (all middleware)", f"{base}/healthz", duration=duration)
        result.rss_mb = rss_mb(pid)
        results.append(result)
    results += catalog.run(duration)
    results += orders.run(duration)
    print_table(results)
    ratio = catalog.listing_ratio(results)
    if ratio is not None:
        print(f"product listing p50, largest / smallest catalog: {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
