"""End to end over TCP (issue 10, item 1): slow uploads cannot starve the database pool.

A real `loumo serve` on the suite's database engine (SQLite, or PostgreSQL when DATABASE_URL
names one) gets 40 uploads that send their headers and a few bytes of body, then nothing. While
those sockets stay open, sign-ins and catalog reads keep answering 2xx, and a real upload goes
through: no request holds a pooled connection while it waits on its client.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from loumo.core.db import Database
from loumo.core.migrations import upgrade_async
from tests import images
from tests.conftest import PROCESS_DEADLINE, empty_database
from tests.factories import create_user
from tests.servers import start_serve, stop

pytestmark = pytest.mark.e2e

SLOW_UPLOADS = 40
ADMIN = {"email": "boss@example.com", "password": "long-enough-pw-1"}
web = httpx.Client(timeout=PROCESS_DEADLINE)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[str]:
    """A migrated database with one admin (made in-process: two fewer processes to start)."""
    async with empty_database(tmp_path) as url:
        await upgrade_async(url)
        db = Database(url)
        try:
            async with db.sessionmaker() as session:
                await create_user(
                    session, "admin", email=ADMIN["email"], password=ADMIN["password"]
                )
        finally:
            await db.dispose()
        yield url


@pytest.fixture
def server(database: str, tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "ENVIRONMENT": "development",
        "JOBS_IN_PROCESS": "false",
    }
    env.pop("REDIS_URL", None)
    process, base = start_serve(env, tmp_path)
    try:
        yield base
    finally:
        stop(process)


def _in_flight(base: str) -> float:
    metrics = web.get(f"{base}/metrics").text
    found = re.search(r"^loumo_http_requests_in_flight (\S+)$", metrics, re.MULTILINE)
    assert found, metrics[:500]
    return float(found.group(1)) - 1  # not counting this very request


def _slow_upload(port: int, token: str) -> socket.socket:
    """An upload that announces 100 kB, sends headers and 4 bytes of body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=PROCESS_DEADLINE)
    sock.sendall(
        (
            "POST /api/v1/media/images HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=slow\r\n"
            "Content-Length: 100000\r\n"
            "\r\n"
            "--sl"
        ).encode()
    )
    return sock


async def test_slow_uploads_do_not_starve_sign_ins_or_catalog_reads(
    server: str,
) -> None:
    login = web.post(f"{server}/api/v1/auth/login", json=ADMIN)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    port = httpx.URL(server).port
    assert port
    sockets = [_slow_upload(port, token) for _ in range(SLOW_UPLOADS)]
    try:
        deadline = time.monotonic() + PROCESS_DEADLINE
        while _in_flight(server) < SLOW_UPLOADS:  # the server holds every one of them
            assert time.monotonic() < deadline
            time.sleep(0.05)

        for _ in range(3):
            signed_in = web.post(f"{server}/api/v1/auth/login", json=ADMIN)
            assert signed_in.status_code == 200, signed_in.text
            anonymous = web.get(f"{server}/api/v1/products")
            assert anonymous.status_code == 200, anonymous.text
            staff = web.get(f"{server}/api/v1/products", headers=bearer)
            assert staff.status_code == 200, staff.text
        uploaded = web.post(
            f"{server}/api/v1/media/images",
            headers=bearer,
            files={"file": ("a.png", images.png_bytes(), "image/png")},
            data={"purpose": "product"},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert _in_flight(server) >= SLOW_UPLOADS  # and the slow ones are still waiting
    finally:
        for sock in sockets:
            sock.close()
