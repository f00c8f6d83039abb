"""PostgreSQL stopped and started under load, or hanging (connections open, no answer), behind
a real `loumo serve` in production mode.

While the database is down `/readyz` answers 503 naming it (no driver text), and every request
that needs it gets a clean 503 problem document (`database_unavailable`, `Retry-After`): never a
500, never a hang (a hanging database answers 503 after `DB_COMMAND_TIMEOUT`).
Once it is back the same process serves reads, writes and sign-ins again, without a restart.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROCESS_DEADLINE
from tests.private_services import (
    PrivatePostgres,
    ThreadedTcpProxy,
    env_without_shared_services,
    private_postgres,
)
from tests.servers import serving

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

API = "/api/v1"
ADMIN = {"email": "boss@example.com", "password": "long-enough-pw-1"}
# A request may take long on a loaded machine, but one that never ends is a hang: this bounds it.
REQUEST_TIMEOUT = 60.0


@dataclass
class Load:
    """Reads and writes sent in a loop by two threads; every answer is kept with its phase."""

    base: str
    token: str
    phase: str = "up"
    answers: list[tuple[str, str, httpx.Response]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _loop(self, kind: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, timeout=REQUEST_TIMEOUT) as web:
            while not self.stop.is_set():
                before = self.phase
                try:
                    if kind == "read":
                        answer = web.get(f"{API}/products")
                    else:
                        name = f"Category {uuid.uuid4().hex[:10]}"
                        answer = web.post(f"{API}/categories", json={"name": name}, headers=headers)
                except httpx.HTTPError as error:
                    self.errors.append(f"{kind} in phase {before}: {type(error).__name__}")
                    continue
                # An answer belongs to a phase when it started and ended in it.
                phase = before if self.phase == before else f"{before}->{self.phase}"
                self.answers.append((phase, kind, answer))
                self.stop.wait(0.05)

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._loop, args=(k,)) for k in ("read", "write")]
        for thread in threads:
            thread.start()
        return threads

    def of(self, phase: str, kind: str) -> list[httpx.Response]:
        return [a for p, k, a in list(self.answers) if p == phase and k == kind]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    """A private PostgreSQL, migrated, with an admin; each test leaves it running."""
    workdir = tmp_path_factory.mktemp("faults-postgres")
    with private_postgres() as server:
        run = {"env": _server_env(server, workdir), "cwd": workdir, "check": True}
        run["timeout"] = PROCESS_DEADLINE
        subprocess.run([sys.executable, "-m", "loumo", "migrate"], **run)  # type: ignore[call-overload]
        subprocess.run(  # type: ignore[call-overload]
            [sys.executable, "-m", "loumo", "create-admin", "--email", ADMIN["email"],
             "--password", ADMIN["password"]],
            **run,
        )  # fmt: skip
        yield server


def _server_env(database: PrivatePostgres, workdir: Path) -> dict[str, str]:
    return {
        **env_without_shared_services(),
        "DATABASE_URL": database.url,
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PAWAPAY_BASE_URL": "https://api.sandbox.pawapay.io",
        "VAR_DIR": str(workdir / "var"),
        "EMAIL_BACKEND": "file",
        "MAIL_DIR": str(workdir / "var" / "mail"),
        # Every read must reach the database here: a copy of an anonymous product read a moment
        # old (`PUBLIC_READ_CACHE_SECONDS`) would still be served while it goes down.
        "PUBLIC_READ_CACHE_SECONDS": "0",
    }


def _wait_ready(web: httpx.Client, status: int) -> httpx.Response:
    """Poll `/readyz` until it answers `status` (bounded by `PROCESS_DEADLINE`)."""
    stop = threading.Event()
    waited = 0.0
    while True:
        answer = web.get("/readyz")
        if answer.status_code == status:
            return answer
        assert waited < PROCESS_DEADLINE, answer.text
        stop.wait(0.2)
        waited += 0.2


def _assert_clean_503(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "database_unavailable", problem
    assert int(answer.headers["retry-after"]) > 0
    assert "asyncpg" not in answer.text and "127.0.0.1" not in answer.text


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_stopped_and_started_under_load(
    database: PrivatePostgres, tmp_path: Path, mode: str
) -> None:
    env = _server_env(database, tmp_path)
    with (
        serving(1, env, tmp_path) as (base,),
        httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as web,
    ):
        login = web.post(f"{API}/auth/login", json=ADMIN)
        assert login.status_code == 200, login.text
        load = Load(base, login.json()["access_token"])
        threads = load.run()
        try:
            # Up: both kinds of request succeed.
            while not (load.of("up", "read") and load.of("up", "write")):
                load.stop.wait(0.1)
            load.phase = "stopping"
            database.stop(mode)
            down = _wait_ready(web, 503)
            assert down.json()["failing"] == ["database"]
            assert down.json()["checks"]["database"] == "error: unavailable"
            load.phase = "down"
            while not (load.of("down", "read") and load.of("down", "write")):
                load.stop.wait(0.1)
            _assert_clean_503(web.post(f"{API}/auth/login", json=ADMIN))
            load.phase = "starting"
            database.start()
            _wait_ready(web, 200)
            load.phase = "recovered"
            while not (load.of("recovered", "read") and load.of("recovered", "write")):
                load.stop.wait(0.1)
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(timeout=PROCESS_DEADLINE)
        assert load.errors == []
        for phase, kind, answer in load.answers:
            if answer.status_code == 503:
                _assert_clean_503(answer)
            else:
                expected = 200 if kind == "read" else 201
                assert answer.status_code == expected, (phase, kind, answer.text)
        for kind in ("read", "write"):
            assert {a.status_code for a in load.of("up", kind)} == {200 if kind == "read" else 201}
            assert {a.status_code for a in load.of("down", kind)} == {503}
            assert {a.status_code for a in load.of("recovered", kind)} == {
                200 if kind == "read" else 201
            }
        assert web.post(f"{API}/auth/login", json=ADMIN).status_code == 200


def test_a_hanging_postgres_answers_503_then_recovers(
    database: PrivatePostgres, tmp_path: Path
) -> None:
    """The server keeps its connections open and answers nothing (a forwarder in front of it,
    frozen): `/readyz` says so within its check's bound, a read and a write get a clean 503
    once the driver gives up (`DB_COMMAND_TIMEOUT`), and all is served again when it answers."""
    proxy = ThreadedTcpProxy("127.0.0.1", database.port)
    try:
        proxy.start()
        env = _server_env(database, tmp_path)
        env["DATABASE_URL"] = database.url.replace(f":{database.port}/", f":{proxy.port}/")
        env["DB_COMMAND_TIMEOUT"] = "3"  # 30 s by default
        with (
            serving(1, env, tmp_path) as (base,),
            httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as web,
        ):
            login = web.post(f"{API}/auth/login", json=ADMIN)
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            assert web.get(f"{API}/products").status_code == 200

            proxy.freeze()
            down = _wait_ready(web, 503)
            assert down.json()["failing"] == ["database"]
            name = f"Category {uuid.uuid4().hex[:10]}"
            with ThreadPoolExecutor(2) as both:  # each waits out the driver's timeout: at once
                read = both.submit(web.get, f"{API}/products")
                write = both.submit(
                    web.post, f"{API}/categories", json={"name": name}, headers=headers
                )
                _assert_clean_503(read.result())
                _assert_clean_503(write.result())

            proxy.freeze(False)
            _wait_ready(web, 200)
            for _ in range(3):  # connections that gave up are replaced, not handed out again
                assert web.get(f"{API}/products").status_code == 200
            created = web.post(f"{API}/categories", json={"name": name}, headers=headers)
            assert created.status_code == 201, created.text
    finally:
        proxy.close()
