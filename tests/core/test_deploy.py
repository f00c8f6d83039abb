"""The deployment files describe the production shape (checked without a Docker engine)."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_has_api_postgres_redis_with_healthchecks_and_volumes() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("api", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert {"pgdata", "redisdata", "media"} <= set(compose["volumes"])
    assert services["api"]["environment"]["ENVIRONMENT"] == "production"
    # Production-mode settings reach the containers, empty (unset) unless the operator sets them.
    for name in ("METRICS_TOKEN", "TRUSTED_PROXIES", "CORS_ALLOWED_ORIGINS"):
        assert services["api"]["environment"][name] == f"${{{name}:-}}"


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2
    assert "USER loumo" in text
    assert "uv sync --frozen" in text
