"""Prometheus metrics: HTTP traffic and the database pool."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "loumo_http_requests_total",
    "HTTP requests by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "loumo_http_request_duration_seconds",
    "HTTP request latency by method, route template and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
HTTP_IN_FLIGHT = Gauge(
    "loumo_http_requests_in_flight", "HTTP requests being served", registry=REGISTRY
)


class PoolCollector(Collector):
    """Reads the connection pool figures of the engines registered with it at scrape time."""

    def __init__(self) -> None:
        self._tracked: list[tuple[str, AsyncEngine]] = []

    def track(self, name: str, engine: AsyncEngine) -> None:
        self._tracked.append((name, engine))

    def untrack(self, name: str, engine: AsyncEngine) -> None:
        with contextlib.suppress(ValueError):
            self._tracked.remove((name, engine))

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily("loumo_db_pool_size", "Pool size", labels=["engine"])
        out = GaugeMetricFamily(
            "loumo_db_pool_checked_out", "Connections in use", labels=["engine"]
        )
        idle = GaugeMetricFamily("loumo_db_pool_idle", "Idle pooled connections", labels=["engine"])
        overflow = GaugeMetricFamily(
            "loumo_db_pool_overflow", "Connections beyond the pool size", labels=["engine"]
        )
        latest = dict(self._tracked)  # the most recently started engine of each name
        for name, engine in latest.items():
            pool = engine.sync_engine.pool
            for family, attr in (
                (size, "size"),
                (out, "checkedout"),
                (idle, "checkedin"),
                (overflow, "overflow"),
            ):
                fn = getattr(pool, attr, None)
                if callable(fn):
                    family.add_metric([name], float(fn()))
        yield from (size, out, idle, overflow)


POOL_COLLECTOR = PoolCollector()
REGISTRY.register(POOL_COLLECTOR)
