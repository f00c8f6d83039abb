"""The deployment files describe the production shape (checked without a Docker engine; CI also
runs `docker-compose config` on the compose file)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return compose


def test_compose_has_the_cluster_services_with_healthchecks_and_volumes() -> None:
    compose = _compose()
    services = compose["services"]
    expected = {"proxy", "api", "worker", "migrate", "postgres", "redis", "rabbitmq", "s3"}
    assert expected | {"mailpit"} <= set(services)
    for name in ("api", "postgres", "redis", "rabbitmq", "s3"):
        assert "healthcheck" in services[name], name
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert {"pgdata", "redisdata", "rabbitmqdata", "s3data"} <= set(compose["volumes"])
    environment = services["api"]["environment"]
    assert environment["ENVIRONMENT"] == "production"
    assert environment["BROKER_URL"].startswith("amqp://")
    assert environment["REDIS_URL"].startswith("redis://redis:")
    assert environment["STORAGE_BACKEND"] == "s3"
    assert environment["S3_ENDPOINT_URL"] == "http://s3:9000"
    # Production-mode settings reach the containers, empty (unset) unless the operator sets them.
    for name in ("METRICS_TOKEN", "CORS_ALLOWED_ORIGINS"):
        assert environment[name] == f"${{{name}:-}}"
    # The proxy's forwarded headers are believed (it is the API's only way in).
    assert environment["TRUSTED_PROXIES"].startswith("${TRUSTED_PROXIES:-")
    assert services["worker"]["environment"] == environment


def test_only_the_proxy_publishes_the_api_so_it_scales() -> None:
    """`docker compose up --scale api=3`: the api service publishes no port (replicas would
    clash on it); the proxy does, and its configuration follows every replica by DNS."""
    services = _compose()["services"]
    assert "ports" not in services["api"]
    assert "ports" not in services["worker"]
    assert any(port.endswith(":8080") for port in services["proxy"]["ports"])
    volume = "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"
    assert volume in services["proxy"]["volumes"]
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert re.search(r"^\s*bind :8080$", config, re.MULTILINE)
    assert re.search(r"^\s*option httpchk GET /readyz$", config, re.MULTILINE)
    assert re.search(r"^\s*nameserver \w+ 127\.0\.0\.11:53$", config, re.MULTILINE)
    assert re.search(r"^\s*server-template api \d+ api:8000$", config, re.MULTILINE)
    assert re.search(r"^\s*default-server .*\bresolvers docker\b", config, re.MULTILINE)


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2
    assert "USER loumo" in text
    assert "uv sync --frozen" in text
