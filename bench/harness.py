"""Benchmark harness: a real `loumo serve` on loopback, driven by wrk, summarised in a table."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from ops.loopback import answers_200

BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
# API processes per server: production runs one per core (`loumo serve --workers N`).
BENCH_WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
# Two benches on one machine (one PostgreSQL) need their own databases and port.
BENCH_DB_SUFFIX = os.environ.get("BENCH_DB_SUFFIX", "")
BENCH_PORT = int(os.environ.get("BENCH_PORT", "8765"))


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _recreate(name: str) -> None:
    connection = await asyncpg.connect(plain_dsn(BENCH_DB))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def fresh_database(name: str) -> str:
    """Drop and create database `name` (+ BENCH_DB_SUFFIX) next to BENCH_DATABASE_URL's;
    returns its URL."""
    name += BENCH_DB_SUFFIX
    asyncio.run(_recreate(name))
    return make_url(BENCH_DB).set(database=name).render_as_string(hide_password=False)


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mb: float | None = None


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is not available (apt-get install wrk)")
    return found


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m|h)$", value)
    if not match:
        return float("nan")
    number, unit = float(match.group(1)), match.group(2)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
    return number * scale[unit]


def run_wrk(
    name: str,
    url: str,
    *,
    threads: int = 2,
    connections: int = 50,
    duration: int = 15,
    script: str | None = None,
) -> Result:
    cmd = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The latency distribution's own lines: "+/- Stdev" columns end in "%" too (87.50%).
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Result(name, rps, p50, p99, errors)


def rss_mb(pid: int) -> float:
    """Resident memory of the largest API process, in MB: the uvicorn workers when there are
    several (the supervisor serves no request), else the process itself."""
    pids = _children(pid) or [pid]
    sizes = []
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except FileNotFoundError:
            continue
    return max(sizes) if sizes else float("nan")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


@contextmanager
def server(
    database_url: str,
    *,
    port: int = BENCH_PORT,
    workers: int = BENCH_WORKERS,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """Migrate, then serve Loumo as a real process; yields its base URL and pid."""
    var_dir = tempfile.mkdtemp(prefix="loumo-bench-")
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "development",
        **(env or {}),
    }
    subprocess.run([sys.executable, "-m", "loumo", "migrate"], env=full_env, check=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "loumo", "serve", "--port", str(port), "--workers", str(workers)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not answers_200(f"{base}/readyz", timeout=1):
            if time.monotonic() > deadline:
                raise SystemExit("bench: server did not become ready")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)


def machine() -> str:
    """The machine a table was measured on: CPU model, cores, RAM, PostgreSQL version."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_kb = int(line.split()[1])
    version = asyncio.run(_server_version())
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram_kb / 1_048_576:.1f} GB RAM, "
        f"PostgreSQL {version}, Python {sys.version.split()[0]}"
    )


async def _server_version() -> str:
    connection = await asyncpg.connect(plain_dsn(BENCH_DB))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def _counts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        return {
            table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
            for table in ("products", "variants", "shops", "stocks")
        }
    finally:
        await connection.close()


def dataset(url: str) -> str:
    """What a database holds: products, variants, shops and stock rows."""
    counts = asyncio.run(_counts(url))
    return (
        f"{counts['products']:,} products, {counts['variants']:,} variants, "
        f"{counts['shops']:,} shops, {counts['stocks']:,} stock rows"
    )


def print_table(results: list[Result], workers: int = BENCH_WORKERS) -> None:
    print(f"loumo serve --workers {workers}, wrk -t2 -c50, RSS = largest worker")
    header = (
        f"{'benchmark':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'RSS MB':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        rss = f"{r.rss_mb:.0f}" if r.rss_mb is not None else "-"
        print(
            f"{r.name:<44} {r.requests_per_s:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.errors:>7} {rss:>7}"
        )
