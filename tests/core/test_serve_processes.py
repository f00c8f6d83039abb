"""`loumo serve --workers 2` as real processes: one scrape of `/metrics` counts every worker's
requests, and SIGTERM lets a request in flight finish within SHUTDOWN_TIMEOUT."""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from loumo.cli import _prepare_metrics_dir
from loumo.core import metrics
from loumo.core.settings import Settings
from tests.conftest import PROCESS_DEADLINE
from tests.servers import start_serve

pytestmark = pytest.mark.e2e
ADMIN = ("ops-admin@example.com", "a long enough admin password 1")
HEALTHZ = {"method": "GET", "route": "/healthz", "status": "200"}


def prepared_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A migrated SQLite database with one admin, and the environment of a server on it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {"PROMETHEUS_MULTIPROC_DIR", "DATABASE_URL"}
    }
    env |= {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "VAR_DIR": str(tmp_path / "var"),
        "ENVIRONMENT": "development",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        **extra,
    }
    for command in (
        ["migrate"],
        ["create-admin", "--email", ADMIN[0], "--password", ADMIN[1]],
    ):
        subprocess.run(
            [sys.executable, "-m", "loumo", *command],
            env=env,
            cwd=tmp_path,
            check=True,
            timeout=PROCESS_DEADLINE,
            capture_output=True,
        )
    return env


def counts_by_process(directory: Path, **labels: str) -> dict[int, float]:
    """`loumo_http_requests_total` of the series with these labels, per process, read from the
    processes' own files of the multiprocess directory."""
    counts: dict[int, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        for metric in MultiProcessCollector.merge([str(path)]):  # type: ignore[no-untyped-call]
            for sample in metric.samples:
                if sample.name == "loumo_http_requests_total" and labels.items() <= (
                    sample.labels.items()
                ):
                    counts[pid] = counts.get(pid, 0.0) + sample.value
    return counts


def scrapes_counted(directory: Path, expected: int) -> bool:
    return sum(counts_by_process(directory, route="/metrics").values()) == expected


def scraped(text: str, name: str, **labels: str) -> float:
    """The value of one series in a scrape, 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return 0.0


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PROCESS_DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=PROCESS_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def test_one_scrape_counts_the_requests_of_both_workers(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A previous run's figures: emptied at start, never added to this run's.
    stale = MmapedDict(str(metrics_dir / "counter_999999.db"))  # type: ignore[no-untyped-call]
    key = mmap_key(
        "loumo_http_requests",
        "loumo_http_requests_total",
        list(HEALTHZ),
        list(HEALTHZ.values()),
        "",
    )
    stale.write_value(key, 1000.0, 0.0)  # type: ignore[no-untyped-call]
    stale.close()  # type: ignore[no-untyped-call]
    env = prepared_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), DB_POOL_SIZE="3")
    process, base = start_serve(env, tmp_path, "--workers", "2")
    try:
        assert not (metrics_dir / "counter_999999.db").exists()
        # Requests on their own connections, several at once, until both workers served some.
        sent = 0
        deadline = time.monotonic() + PROCESS_DEADLINE
        with ThreadPoolExecutor(8) as pool:
            while len(counts_by_process(metrics_dir, **HEALTHZ)) < 2:
                statuses = list(
                    pool.map(lambda _: httpx.get(f"{base}/healthz").status_code, "x" * 16)
                )
                assert statuses == [200] * 16
                sent += 16
                assert time.monotonic() < deadline, "one worker served every request"
        # A request is counted just after its answer is sent.
        wait_for(lambda: sum(counts_by_process(metrics_dir, **HEALTHZ).values()) == sent, "counts")

        # Whichever worker answers the scrape, it counts the requests of both.
        answered: set[int] = set()
        scrapes = 0
        while len(answered) < 2:
            before = counts_by_process(metrics_dir, route="/metrics")
            text = httpx.get(f"{base}/metrics").text
            scrapes += 1
            assert scraped(text, "loumo_http_requests_total", **HEALTHZ) == sent
            # Both processes' pools, added up (DB_POOL_SIZE each).
            assert scraped(text, "loumo_db_pool_size", engine="primary") == 6
            # This scrape is in flight in the worker that answers it.
            assert scraped(text, "loumo_http_requests_in_flight") >= 1
            wait_for(
                functools.partial(scrapes_counted, metrics_dir, scrapes),
                "the scrape to be counted",
            )
            after = counts_by_process(metrics_dir, route="/metrics")
            answered |= {pid for pid, n in after.items() if n > before.get(pid, 0.0)}
            assert time.monotonic() < deadline, "one worker answered every scrape"

        # A worker killed outright: uvicorn starts another, which drops the dead one's live
        # gauges (its pool no longer counts), while the dead one's requests stay counted.
        killed = min(answered)
        os.kill(killed, signal.SIGKILL)

        def replaced() -> bool:
            pids = {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("gauge_livesum_*")}
            if killed in pids or len(pids) != 2:
                return False
            try:
                text = httpx.get(f"{base}/metrics").text
            except httpx.TransportError:
                return False
            return scraped(text, "loumo_db_pool_size", engine="primary") == 6

        wait_for(replaced, "a new worker in place of the killed one")
        text = httpx.get(f"{base}/metrics").text
        assert scraped(text, "loumo_http_requests_total", **HEALTHZ) == sent
    finally:
        assert stop(process) == 0


def test_serve_makes_a_fresh_metrics_directory_only_for_several_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings = Settings(_env_file=None, var_dir=tmp_path)
    assert _prepare_metrics_dir(settings, 1) == (None, False)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    made, made_here = _prepare_metrics_dir(settings, 2)
    assert made is not None and made_here and made.is_dir() and not any(made.iterdir())
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(made.resolve())
    made.rmdir()
    # A directory of the operator's: only prometheus-client's files of it are removed.
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / "gauge_livesum_123.db").write_bytes(b"")
    (chosen / "loumo.db").write_bytes(b"a database")
    settings = Settings(_env_file=None, var_dir=tmp_path, prometheus_multiproc_dir=chosen)
    assert _prepare_metrics_dir(settings, 1) == (chosen, False)
    assert [p.name for p in chosen.iterdir()] == ["loumo.db"]


def slow_login(base: str, body: bytes) -> tuple[socket.socket, bytes]:
    """Open a login whose body is sent in two parts: the first now, the last byte later."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=PROCESS_DEADLINE)
    head = (
        f"POST /api/v1/auth/login HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:-1])
    return sock, body[-1:]


def read_response(sock: socket.socket) -> tuple[int, bytes, bytes]:
    """Status, head and body of the answer, read until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1.1 (\d{3})", head)
    assert match, data[:200]
    return int(match.group(1)), head, body


def in_flight(base: str) -> float:
    # The scrape is itself in flight.
    return scraped(httpx.get(f"{base}/metrics").text, "loumo_http_requests_in_flight") - 1


def test_sigterm_lets_a_request_in_flight_finish_then_exits_0(tmp_path: Path) -> None:
    env = prepared_env(tmp_path, SHUTDOWN_TIMEOUT=str(int(PROCESS_DEADLINE)))
    process, base = start_serve(env, tmp_path, "--workers", "2")
    log = tmp_path / "server.log"
    try:
        body = orjson.dumps({"email": ADMIN[0], "password": ADMIN[1]})
        sock, rest = slow_login(base, body)
        with sock:
            wait_for(lambda: in_flight(base) == 1, "the login to be in flight")
            process.send_signal(signal.SIGTERM)
            wait_for(lambda: "Waiting for connections to close" in log.read_text(), "shutdown")
            sock.sendall(rest)
            status, head, answer = read_response(sock)
        assert status == 200, answer
        assert b"connection: close" in head.lower()
        assert "access_token" in orjson.loads(answer)
    finally:
        code = stop(process)
    assert code == 0


def test_sigterm_cuts_what_outlives_the_shutdown_timeout_and_exits_0(tmp_path: Path) -> None:
    env = prepared_env(tmp_path, SHUTDOWN_TIMEOUT="1", REQUEST_BODY_TIMEOUT="3600")
    process, base = start_serve(env, tmp_path, "--workers", "2")
    log = tmp_path / "server.log"
    try:
        sock, _ = slow_login(base, orjson.dumps({"email": ADMIN[0], "password": "x" * 12}))
        with sock:
            wait_for(lambda: in_flight(base) == 1, "the login to be in flight")
            process.send_signal(signal.SIGTERM)
            # The body never ends; the process does not wait for it past SHUTDOWN_TIMEOUT.
            assert process.wait(timeout=PROCESS_DEADLINE) == 0
    finally:
        stop(process)
    assert "timeout graceful shutdown exceeded" in log.read_text()


def test_a_starting_process_forgets_the_live_gauges_of_dead_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=PROCESS_DEADLINE)
    files = {
        "dead_live": f"gauge_livesum_{gone.pid}.db",
        "dead_counter": f"counter_{gone.pid}.db",
        "alive_live": f"gauge_livesum_{os.getpid()}.db",
        "parent_live": f"gauge_livesum_{os.getppid()}.db",
    }
    for name in files.values():
        (tmp_path / name).write_bytes(b"")
    metrics.forget_dead_processes()
    left = {path.name for path in tmp_path.iterdir()}
    # Totals of the dead stay; only their live gauges go.
    assert left == {files["dead_counter"], files["alive_live"], files["parent_live"]}
