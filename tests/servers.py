"""Real `loumo serve` processes for end-to-end tests: one way to start them, wait for them and
stop them (each test gives its own environment and working directory)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ops.loopback import answers_200, free_port
from tests.conftest import PROCESS_DEADLINE


def spawn_serve(
    env: dict[str, str], workdir: Path, *args: str, log_name: str = "server.log"
) -> tuple[subprocess.Popen[bytes], str]:
    """Start one `loumo serve` with extra arguments (`--workers 2`, say; log in
    `workdir/log_name`) on a free port; return it and its base URL without waiting."""
    port = free_port()
    with (workdir / log_name).open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loumo", "serve", "--port", str(port), *args],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def wait_ready(
    process: subprocess.Popen[bytes], base: str, log_path: Path, deadline: float
) -> None:
    """Wait until the server answers `/readyz` with 200; fail (and kill it) when it exits or
    `deadline` (a `time.monotonic()` value) passes first."""
    while True:
        log_text = log_path.read_text(errors="replace")[-2000:]
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log_text}")
        if answers_200(f"{base}/readyz", timeout=10):
            return
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the server did not start: {log_text}")
        time.sleep(0.1)


def start_serve(
    env: dict[str, str], workdir: Path, *args: str, log_name: str = "server.log"
) -> tuple[subprocess.Popen[bytes], str]:
    """`spawn_serve`, then `wait_ready`; the caller stops it."""
    process, base = spawn_serve(env, workdir, *args, log_name=log_name)
    wait_ready(process, base, workdir / log_name, time.monotonic() + PROCESS_DEADLINE)
    return process, base


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=PROCESS_DEADLINE)


@contextmanager
def serving(count: int, env: dict[str, str], workdir: Path) -> Iterator[list[str]]:
    """Start `count` `loumo serve` processes at once (logs in `workdir/server<i>.log`) and yield
    their base URLs once every one answers `/readyz`; stop them all afterwards."""
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for i in range(count):
            started.append(spawn_serve(env, workdir, log_name=f"server{i}.log"))
        deadline = time.monotonic() + PROCESS_DEADLINE
        for i, (process, base) in enumerate(started):
            wait_ready(process, base, workdir / f"server{i}.log", deadline)
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=PROCESS_DEADLINE)
