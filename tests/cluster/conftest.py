"""The loopback cluster (ops/cluster.py) for fault tests: 3 API processes behind HAProxy and 2
job workers, on a private PostgreSQL and a private Redis that the fixture starts on free ports
(tests/private_services.py), and its own queue on the machine's RabbitMQ (deleted at the end),
so that parallel runs never collide and the shared servers are never stopped or reconfigured."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pika
import pytest

from ops.cluster import Cluster, ClusterConfig, running
from tests.conftest import PROCESS_DEADLINE
from tests.private_services import private_postgres, private_redis

SLOW_JOB_SECONDS = 10  # the first attempt of `test.cluster_slow` sleeps this long


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with private_postgres() as postgres, private_redis() as redis:
        yield from _cluster(tmp_path_factory, postgres.url, redis.url)


def _cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
) -> Iterator[Cluster]:
    tag = uuid.uuid4().hex[:12]
    config = ClusterConfig(
        state_dir=tmp_path_factory.mktemp("cluster"),
        api=3,
        workers=2,
        proxy_port=0,
        postgres_url=postgres_url,
        redis_url=redis_url,
        database=f"loumo_test_cluster_{tag}",
        fresh_database=True,
        drop_database_on_stop=True,
        seed_demo=False,
        rate_limit_prefix=f"loumo-test-{tag}",
        jobs_queue=f"loumo.test.{tag}",
        s3_bucket=f"loumo-test-{tag}",
        worker_threads=4,
        db_pool_size=4,
        db_max_overflow=4,
        env={
            "JOBS_MODULES": "tests.cluster.handlers",
            "JOBS_POLL_INTERVAL": "0.2",
            # A killed worker's job is run again this soon (its lease, then its relay lease).
            "JOBS_LEASE_SECONDS": "3",
            "JOBS_RELAY_LEASE_SECONDS": "3",
            # A killed API process's Idempotency-Keys are free for their retries this soon.
            "IDEMPOTENCY_RUNNING_LEASE_SECONDS": "5",
        },
        timeout=PROCESS_DEADLINE,
    )
    try:
        with running(config) as started:
            yield started
    finally:
        _forget_queue(config.broker_url, config.jobs_queue)


def _forget_queue(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(queue + suffix)
    finally:
        connection.close()
