"""With BROKER_URL set, /readyz checks the broker; job metrics are exported."""

from __future__ import annotations

import uuid

import httpx
import pika
import pytest
from fastapi import FastAPI

from loumo.core.settings import Settings
from loumo.main import create_app


@pytest.mark.parametrize(
    ("broker_url", "ready"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/%2F", True),
        ("redis://127.0.0.1:6379/0", True),
        ("amqp://guest:guest@127.0.0.1:1/%2F", False),
    ],
)
# `app` makes the conftest empty the tables afterwards: this test's own app runs the scheduler,
# which defers the periodic jobs (accounts.purge) into the shared test database for nobody.
@pytest.mark.usefixtures("app")
async def test_readiness_reports_the_broker(
    settings: Settings, broker_url: str, ready: bool, app: FastAPI
) -> None:
    # `app` makes the shared fixtures empty the tables afterwards: this app's scheduler defers
    # the periodic jobs of the domains into the shared database.
    queue = f"loumo.test.{uuid.uuid4().hex[:12]}"
    api = create_app(settings.model_copy(update={"broker_url": broker_url, "jobs_queue": queue}))
    try:
        async with api.router.lifespan_context(api):
            transport = httpx.ASGITransport(app=api)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/readyz")
                metrics = (await client.get("/metrics")).text
    finally:
        if broker_url.startswith("amqp") and ready:
            connection = pika.BlockingConnection(pika.URLParameters(broker_url))
            channel = connection.channel()
            for suffix in ("", ".DQ", ".XQ"):
                channel.queue_delete(queue + suffix)
            connection.close()
    body = response.json()
    assert (response.status_code == 200) is ready
    assert body["checks"]["broker"] == "ok" if ready else body["failing"] == ["broker"]
    for name in ("enqueued", "succeeded", "failed", "retried", "dead"):
        assert f"# TYPE loumo_jobs_{name}_total counter" in metrics
    assert "# TYPE loumo_job_duration_seconds histogram" in metrics
