"""`ops.cluster` stops what its state file names, and only that; its HAProxy configuration
checks every API process on /readyz."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from ops.cluster import STATE_FILE, Process, _start_time, haproxy_config, stop


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def _state(directory: Path, processes: list[Process]) -> None:
    state = {"url": "", "database_url": "", "s3_endpoint": ""}
    state_processes = [asdict(p) for p in processes]
    (directory / STATE_FILE).write_text(json.dumps({**state, "processes": state_processes}))


def test_stop_ends_the_processes_it_started_and_spares_a_reused_pid(tmp_path: Path) -> None:
    mine, other = _sleeper(), _sleeper()
    try:
        started = _start_time(mine.pid)
        assert started is not None
        recorded = Process("api", "api0", mine.pid, started, str(tmp_path / "api0.log"))
        # `other` has a pid the state names, but not the process that was started then.
        reused = Process("worker", "worker0", other.pid, started - 1, str(tmp_path / "w.log"))
        _state(tmp_path, [recorded, reused])
        stopped = stop(tmp_path, timeout=30)
        assert {p.name for p in stopped} == {"api0", "worker0"}
        assert mine.wait(timeout=30) != 0  # ended by its SIGTERM
        assert other.poll() is None  # left alone
        assert not (tmp_path / STATE_FILE).exists()
        assert stop(tmp_path) == []  # nothing left to stop
    finally:
        for process in (mine, other):
            process.kill()
            process.wait()


def test_the_proxy_checks_every_api_process_on_readyz() -> None:
    config = haproxy_config(8080, [("api0", "127.0.0.1:9001"), ("api1", "127.0.0.1:9002")])
    assert "bind 127.0.0.1:8080" in config
    assert "option httpchk GET /readyz" in config
    assert "server api0 127.0.0.1:9001 check" in config
    assert "server api1 127.0.0.1:9002 check" in config
