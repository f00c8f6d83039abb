"""End to end: `loumo migrate` and `loumo serve` as real processes, spoken to over TCP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROCESS_DEADLINE
from tests.servers import start_serve, stop

# On a loaded machine one request (an Argon2 login, say) can take longer than httpx's 5 s.
web = httpx.Client(timeout=PROCESS_DEADLINE)

pytestmark = pytest.mark.e2e


def test_real_server_serves_docs_health_metrics_and_logs_json(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}",
        "VAR_DIR": str(tmp_path / "var"),
        "ENVIRONMENT": "development",
    }
    subprocess.run(
        [sys.executable, "-m", "loumo", "migrate"],
        env=env,
        cwd=tmp_path,
        check=True,
        timeout=PROCESS_DEADLINE,
    )
    log_path = tmp_path / "server.log"
    server, base = start_serve(env, tmp_path)
    try:
        assert web.get(f"{base}/healthz").status_code == 200
        assert web.get(f"{base}/readyz").json()["status"] == "ok"
        assert "swagger" in web.get(f"{base}/docs").text.lower()
        assert web.get(f"{base}/openapi.json").json()["openapi"].startswith("3.1")
        assert "loumo_http_requests_total" in web.get(f"{base}/metrics").text
        missing = web.get(f"{base}/no/such/route", headers={"X-Request-ID": "e2e-trace-0001"})
        assert missing.status_code == 404
        assert missing.json()["request_id"] == "e2e-trace-0001"
    finally:
        stop(server)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    access = [rec for rec in lines if rec.get("request_id") == "e2e-trace-0001"]
    assert access and access[0]["status"] == 404 and access[0]["route"] == "<unmatched>"
    assert {"method", "route", "status", "duration_ms", "timestamp"} <= access[0].keys()
