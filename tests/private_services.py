"""Private infrastructure for fault tests: a PostgreSQL, a Redis and an S3 API (moto server) of
the test's own, on free loopback ports, that the test may stop and start again mid-test; and a
TCP forwarder that can be cut and restored in front of a shared server (`TcpProxy`).

The machine's shared servers (PostgreSQL 5432, Redis 6379, RabbitMQ) are never touched: every
server here lives in a temporary directory or in this process, and is stopped on exit.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from moto.server import ThreadedMotoServer

from ops.loopback import free_port
from tests.conftest import PROCESS_DEADLINE


def wait_for_port(port: int, *, up: bool = True) -> None:
    """Wait (at most `PROCESS_DEADLINE`) until something listens on `port` (or, `up=False`,
    until nothing does)."""
    deadline = time.monotonic() + PROCESS_DEADLINE
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                listening = True
        except OSError:
            listening = False
        if listening == up:
            return
        assert time.monotonic() < deadline, f"port {port} still {'closed' if up else 'open'}"
        time.sleep(0.05)


# --- PostgreSQL ---------------------------------------------------------------------------------


class Server(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


S = TypeVar("S", bound=Server)


@contextmanager
def running(server: S) -> Iterator[S]:
    """`server` started, and stopped on exit."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def postgres_bindir() -> Path:
    """The newest PostgreSQL server binaries Debian installed (/usr/lib/postgresql/<v>/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    assert found, "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    return found[-1].parent


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, run as the `postgres` user (the server
    refuses root), trusting local connections, listening on 127.0.0.1:`port` only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = free_port()
        self.bindir = postgres_bindir()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its `postgres` database, as user `postgres`."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            timeout=PROCESS_DEADLINE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c shared_buffers=16MB",
                "-c max_connections=60",
            ]
        )
        timeout = str(int(PROCESS_DEADLINE))
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", timeout, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m <mode>`: "fast" ends every session, "immediate" is a crash."""
        timeout = str(int(PROCESS_DEADLINE))
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", timeout,
            "stop",
        )  # fmt: skip
        wait_for_port(self.port, up=False)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh, running PostgreSQL of this test's own; stopped and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="loumo-pg-"))
    shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------------------


class PrivateRedis:
    """A `redis-server` without persistence on 127.0.0.1:`port`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=PROCESS_DEADLINE)
        self.process = None
        wait_for_port(self.port, up=False)


def private_redis() -> AbstractContextManager[PrivateRedis]:
    return running(PrivateRedis())


# --- S3 (moto server) ---------------------------------------------------------------------------


class MotoS3:
    """moto's S3 API server in a thread of this process. Its buckets and objects live in moto's
    in-process backends, so they outlive a `stop()`/`start()` of the server, as a real store's
    would outlive an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        self.server.stop()
        wait_for_port(self.port, up=False)


def moto_s3() -> AbstractContextManager[MotoS3]:
    return running(MotoS3())


def env_without_shared_services() -> dict[str, str]:
    """This process's environment minus what would point a server at the shared services."""
    names = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "STORAGE_BACKEND", "S3_ENDPOINT_URL")
    return {k: v for k, v in os.environ.items() if k not in names}


class TcpProxy:
    """A loopback TCP forwarder that can be cut and restored, to make a server unreachable, or
    frozen and thawed (`frozen`), to make it hang."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.links: set[asyncio.StreamWriter] = set()
        self.frozen = False

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                while self.frozen:  # a server that hangs: connections stay open, nothing passes
                    await asyncio.sleep(0.05)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for link in self.links:
            link.close()
        self.links.clear()
        await self.server.wait_closed()


class ThreadedTcpProxy:
    """A `TcpProxy` on an event loop of its own, in a thread: it forwards while the test's own
    loop is blocked (e.g. waiting for a subprocess to start)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.proxy = TcpProxy(target_host, target_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.proxy.port

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(PROCESS_DEADLINE)

    def freeze(self, frozen: bool = True) -> None:
        self.proxy.frozen = frozen

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(PROCESS_DEADLINE)

    def close(self) -> None:
        if self.proxy.server is not None and self.proxy.server.is_serving():
            self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(PROCESS_DEADLINE)
        self._loop.close()
