"""Real `loumo serve` processes for end-to-end tests: one way to start them, wait for them and
stop them (each test gives its own environment and working directory)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import PROCESS_DEADLINE


def free_port() -> int:
    """A TCP port of the loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(count: int, env: dict[str, str], workdir: Path) -> Iterator[list[str]]:
    """Start `count` `loumo serve` processes (logs in `workdir/server<i>.log`) and yield their
    base URLs once every one answers `/readyz`; stop them all afterwards."""
    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for i in range(count):
            port = free_port()
            with (workdir / f"server{i}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "loumo", "serve", "--port", str(port)],
                        env=env,
                        cwd=workdir,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + PROCESS_DEADLINE
        for i, (process, base) in enumerate(zip(processes, bases, strict=True)):
            while True:
                log_text = (workdir / f"server{i}.log").read_text(errors="replace")[-2000:]
                assert process.poll() is None, f"server {i} exited: {log_text}"
                try:
                    if httpx.get(f"{base}/readyz", timeout=10).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"server {i} did not start: {log_text}"
                time.sleep(0.1)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=PROCESS_DEADLINE)


def start_serve(
    env: dict[str, str], workdir: Path, *args: str, log_name: str = "server.log"
) -> tuple[subprocess.Popen[bytes], str]:
    """Start one `loumo serve` with extra arguments (`--workers 2`, say; log in
    `workdir/log_name`) and return it with its base URL once it answers `/readyz`; the caller
    stops it."""
    port = free_port()
    log_path = workdir / log_name
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loumo", "serve", "--port", str(port), *args],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + PROCESS_DEADLINE
    while True:
        log_text = log_path.read_text(errors="replace")[-2000:]
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log_text}")
        try:
            if httpx.get(f"{base}/readyz", timeout=10).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the server did not start: {log_text}")
        time.sleep(0.1)
