"""docs/operations.md and deploy/ stay true to the code: the configuration reference is the
settings class, `.env.example` names every setting, and the dashboard and scrape config ask
only for what the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from loumo.cli import app
from loumo.core import settings_doc
from loumo.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "loumo.json"
METRIC_NAME = re.compile(r"\bloumo_[a-z0-9_]+\b")
# The sample names PromQL can ask for, by metric type.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def test_the_configuration_reference_is_the_settings_class() -> None:
    document = settings_doc.DOC.read_text()
    table = settings_doc.render()
    assert settings_doc.embed(document, table) == document, (
        "docs/operations.md's configuration reference is out of date: run "
        "`uv run loumo settings-doc`"
    )
    # Every setting is a row, with its description.
    for name, field in Settings.model_fields.items():
        assert f"| `{name.upper()}` |" in table
        assert field.description
    assert CliRunner().invoke(app, ["settings-doc", "--check"]).exit_code == 0


def test_the_check_fails_on_a_stale_reference_and_the_command_repairs_it(tmp_path: Path) -> None:
    stale = settings_doc.DOC.read_text().replace("| `SHUTDOWN_TIMEOUT` |", "| `SHUTDOWN` |")
    copy = tmp_path / "operations.md"
    copy.write_text(stale)
    runner = CliRunner()
    assert runner.invoke(app, ["settings-doc", "--check", "--file", str(copy)]).exit_code == 1
    assert copy.read_text() == stale
    assert runner.invoke(app, ["settings-doc", "--file", str(copy)]).exit_code == 0
    assert copy.read_text() == settings_doc.DOC.read_text()


def test_env_example_names_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    missing = {name.upper() for name in Settings.model_fields} - named
    assert not missing, f".env.example lacks {sorted(missing)}"


def _queries(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [q for value in node.values() for q in _queries(value)]
    if isinstance(node, list):
        return [q for item in node for q in _queries(item)]
    return []


async def test_the_dashboard_queries_only_metrics_the_service_exports(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/healthz")
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families((await client.get("/metrics")).text)
        for suffix in SUFFIXES.get(family.type, ("",))
    }
    queries = _queries(json.loads(DASHBOARD.read_text()))
    assert queries
    asked = {name for query in queries for name in METRIC_NAME.findall(query)}
    assert asked, "the dashboard asks for no loumo metric"
    assert asked <= exported, f"not exported: {sorted(asked - exported)}"
    # And it shows every family the service exports.
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in asked}
    families = {re.sub(r"_total$", "", name) for name in exported if name.startswith("loumo_")}
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in families}
    assert families <= shown, f"not on the dashboard: {sorted(families - shown)}"


def test_the_scrape_config_sends_the_metrics_token() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["loumo-api"]
    assert api["metrics_path"] == "/metrics"
    assert api["authorization"]["type"] == "Bearer"
    assert api["authorization"]["credentials_file"]
    assert "loumo-worker" in jobs
