"""Prometheus metrics: HTTP traffic and the database pool.

One process (`loumo serve`, `loumo worker`, tests) keeps its metrics in memory and `/metrics`
reads `REGISTRY`. Several API processes (`loumo serve --workers N`, N > 1) share them through
prometheus-client's multiprocess mode: `loumo serve` sets `PROMETHEUS_MULTIPROC_DIR` before any
worker starts, every value lives in a memory-mapped file of that directory, and whichever process
answers the scrape adds up the files of all of them (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

logger = structlog.get_logger("loumo.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client chooses its value store once, when it is imported, by this same test.
MULTIPROCESS = MULTIPROC_ENV in os.environ or MULTIPROC_ENV.lower() in os.environ
# How often each process copies its pool figures into the shared files (multiprocess mode only;
# one process reads its own pool at scrape time).
POOL_PUBLISH_SECONDS = 5.0

_pid = os.getpid()


def _cached_pid() -> int:
    return _pid


def _forked() -> None:
    global _pid
    _pid = os.getpid()


if MULTIPROCESS:
    # Every write checks that the process has not forked since the value was made; by default
    # with os.getpid(), a system call each time (several per request). The pid is cached
    # instead, and refreshed in a forked child. Before any metric is made.
    os.register_at_fork(after_in_child=_forked)
    values.ValueClass = values.MultiProcessValue(  # type: ignore[no-untyped-call]
        process_identifier=_cached_pid
    )

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
    "loumo_http_requests_in_flight",
    "HTTP requests being served",
    registry=REGISTRY,
    multiprocess_mode="livesum",  # the processes alive now, added up
)


POOL_FIGURES = (
    # name, help, the pool's method
    ("loumo_db_pool_size", "Pool size", "size"),
    ("loumo_db_pool_checked_out", "Connections in use", "checkedout"),
    ("loumo_db_pool_idle", "Idle pooled connections", "checkedin"),
    ("loumo_db_pool_overflow", "Connections beyond the pool size", "overflow"),
)


class PoolCollector(Collector):
    """Reads the connection pool figures of the engines registered with it at scrape time.

    In multiprocess mode a scrape cannot reach the other processes' pools, so `publish` copies
    this process's figures into gauges of the shared files instead ("livesum": the figures of
    the processes alive, added up), at every scrape this process answers and every
    `POOL_PUBLISH_SECONDS` (`publish_pools`).
    """

    def __init__(self) -> None:
        self._tracked: list[tuple[str, AsyncEngine]] = []
        self._shared: list[Gauge] = []
        if MULTIPROCESS:
            self._shared = [
                Gauge(name, doc, ["engine"], registry=None, multiprocess_mode="livesum")
                for name, doc, _ in POOL_FIGURES
            ]

    def track(self, name: str, engine: AsyncEngine) -> None:
        self._tracked.append((name, engine))

    def untrack(self, name: str, engine: AsyncEngine) -> None:
        with contextlib.suppress(ValueError):
            self._tracked.remove((name, engine))

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []

    def _figures(self) -> Iterator[tuple[int, str, float]]:
        """(index in POOL_FIGURES, engine name, value) of the engines tracked now."""
        latest = dict(self._tracked)  # the most recently started engine of each name
        for name, engine in latest.items():
            pool = engine.sync_engine.pool
            for i, (_, _, attr) in enumerate(POOL_FIGURES):
                fn = getattr(pool, attr, None)
                if callable(fn):
                    yield i, name, float(fn())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = [
            GaugeMetricFamily(name, doc, labels=["engine"]) for name, doc, _ in POOL_FIGURES
        ]
        for i, name, value in self._figures():
            families[i].add_metric([name], value)
        yield from families

    def publish(self) -> None:
        """Copy this process's pool figures into the shared gauges (multiprocess mode)."""
        for i, name, value in self._figures():
            self._shared[i].labels(name).set(value)


POOL_COLLECTOR = PoolCollector()
REGISTRY.register(POOL_COLLECTOR)


async def publish_pools() -> None:
    """Keep this process's pool figures in the shared files fresh (multiprocess mode); runs
    until cancelled."""
    while True:
        POOL_COLLECTOR.publish()
        await asyncio.sleep(POOL_PUBLISH_SECONDS)


def exposition() -> bytes:
    """The text a scrape reads: this process's registry, or in multiprocess mode the metrics
    of every process that wrote to the shared directory."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    POOL_COLLECTOR.publish()
    registry = CollectorRegistry()
    registry.register(_SharedFilesCollector(multiproc_dir()))
    return generate_latest(registry)


# What reading a metrics file raises while its process is still creating it (the file exists
# before it is sized: prometheus/client_python#1199) or after it died doing so.
_UNREADABLE = (struct.error, RuntimeError, UnicodeDecodeError, ValueError, OSError)


def _readable(path: str) -> bool:
    try:
        for _ in MmapedDict.read_all_values_from_file(path):  # type: ignore[no-untyped-call]
            pass
    except _UNREADABLE:
        return False
    return True


class _SharedFilesCollector(Collector):
    """`MultiProcessCollector`, except that a file no process has finished creating is left
    out of this scrape (with it, the library fails the whole scrape with a 500)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def collect(self) -> Iterable[Metric]:
        files = sorted(str(p) for p in self.directory.glob("*.db"))
        try:
            return _merge(files)
        except _UNREADABLE:  # rare: only then is each file read on its own first
            readable = [f for f in files if _readable(f)]
            logger.warning("metrics_files_skipped", files=sorted(set(files) - set(readable)))
            return _merge(readable)


def _merge(files: list[str]) -> Iterable[Metric]:
    metrics: Iterable[Metric] = MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
    return metrics


def multiproc_dir() -> Path:
    return Path(os.environ.get(MULTIPROC_ENV) or os.environ[MULTIPROC_ENV.lower()])


_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def forget_dead_processes() -> None:
    """Drop the live gauges (requests in flight, pools) of processes that are gone, e.g. an API
    worker killed and replaced by uvicorn; their counters and histograms stay, so that totals
    never go back. Called when a process starts (multiprocess mode)."""
    pids = {
        int(match.group(1))
        for path in multiproc_dir().iterdir()
        if (match := _LIVE_GAUGE_FILE.match(path.name))
    }
    for pid in pids:
        if pid != os.getpid() and not _alive(pid):
            mark_process_dead(pid)  # type: ignore[no-untyped-call]


def forget_this_process() -> None:
    """Drop this process's live gauges as it stops (multiprocess mode)."""
    with contextlib.suppress(OSError):
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
