"""End to end over TCP: two real API processes sharing one database and one Redis.

The sign-up flow works across them, and they refuse the 6th wrong login together.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROCESS_DEADLINE
from tests.servers import serving

# On a loaded machine one request (an Argon2 login, say) can take longer than httpx's 5 s.
web = httpx.Client(timeout=PROCESS_DEADLINE)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-accounts")


@pytest.fixture(scope="module")
def servers(workdir: Path) -> Iterator[list[str]]:
    tmp_path = workdir
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}",
        "VAR_DIR": str(tmp_path / "var"),
        "ENVIRONMENT": "development",
        "EMAIL_BACKEND": "file",
        "MAIL_DIR": str(tmp_path / "var" / "mail"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "RATE_LIMIT_PREFIX": f"loumo-e2e-{uuid.uuid4().hex}",
    }
    run = {"env": env, "cwd": tmp_path, "check": True, "timeout": PROCESS_DEADLINE}
    subprocess.run([sys.executable, "-m", "loumo", "migrate"], **run)  # type: ignore[call-overload]
    subprocess.run(  # type: ignore[call-overload]
        [
            sys.executable,
            "-m",
            "loumo",
            "create-admin",
            "--email",
            "boss@example.com",
            "--password",
            "long-enough-pw-1",
        ],
        **run,
    )
    with serving(2, env, tmp_path) as bases:
        yield bases


def test_sixth_wrong_login_is_refused_across_processes(servers: list[str]) -> None:
    body = {"email": "boss@example.com", "password": "wrong-password-00"}
    for attempt in range(5):
        answer = web.post(f"{servers[attempt % 2]}/api/v1/auth/login", json=body)
        assert answer.status_code == 401, answer.text
    for base in servers:
        sixth = web.post(f"{base}/api/v1/auth/login", json=body)
        assert sixth.status_code == 429
        assert int(sixth.headers["retry-after"]) > 0
    assert web.get(f"{servers[0]}/readyz").json()["checks"]["rate_limits"] == "ok"


def _mailed_code(directory: Path, to: str) -> str:
    """The code in the mail the servers' embedded job runners wrote (file backend)."""
    deadline = time.monotonic() + PROCESS_DEADLINE
    while True:
        for path in directory.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to in str(message["To"]) and message["X-Loumo-Template"] == "verify_email":
                body = message.get_body(("plain",))
                assert body is not None
                text = body.get_content()
                found = re.search(r"\bcode\b\D{0,12}?\b(\d{6})\b", text)
                assert found is not None
                return found.group(1)
        assert time.monotonic() < deadline, "the verification mail was not written"
        time.sleep(0.1)


def test_sign_up_flow_across_processes(servers: list[str], workdir: Path) -> None:
    first, second = (f"{base}/api/v1" for base in servers)
    account = {"name": "Ada", "email": "ada@example.com", "password": "a-sound-passphrase-42"}
    assert web.post(f"{first}/auth/register", json=account).status_code == 202
    with sqlite3.connect(workdir / "e2e.db") as db:  # the job names the code, holds none
        [(payload,)] = db.execute("SELECT payload FROM jobs WHERE name = 'accounts.code_mail'")
    assert json.loads(payload)["template"] == "verify_email"
    code = _mailed_code(workdir / "var" / "mail", "ada@example.com")
    verified = web.post(
        f"{second}/auth/verify-email", json={"email": "ada@example.com", "code": code}
    )
    assert verified.status_code == 200
    login = {"email": "ada@example.com", "password": "a-sound-passphrase-42"}
    tokens = web.post(f"{first}/auth/login", json=login).json()
    pair = web.post(
        f"{second}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ).json()
    me = web.get(f"{first}/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200 and me.json()["email_verified"] is True
    reused = web.post(f"{first}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401
    after = web.get(f"{second}/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert after.status_code == 401
