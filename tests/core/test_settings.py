"""Settings: production refuses weak secrets in one clear line; development generates one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loumo.core.settings import ConfigurationError, Settings, resolve_secret_key
from tests.conftest import PROCESS_DEADLINE


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, var_dir=tmp_path, **values)


@pytest.mark.parametrize("key", [None, "", "changeme", "short-but-not-empty"])
def test_production_refuses_missing_or_weak_secret(tmp_path: Path, key: str | None) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        resolve_secret_key(_settings(tmp_path, environment="production", secret_key=key))


def test_production_accepts_strong_secret(tmp_path: Path) -> None:
    key = "k" * 16 + "Zq3!vT9@pL2#xW8$"
    assert resolve_secret_key(_settings(tmp_path, environment="production", secret_key=key)) == key


def test_development_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = resolve_secret_key(_settings(tmp_path))
    assert len(first) >= 32
    assert resolve_secret_key(_settings(tmp_path)) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_cli_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "ENVIRONMENT": "production", "SECRET_KEY": "changeme"}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "loumo", "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROCESS_DEADLINE,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("loumo: refusing to start: SECRET_KEY is weak")
