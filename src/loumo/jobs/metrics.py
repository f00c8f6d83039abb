"""Prometheus metrics of the job system, on the application registry."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from loumo.core.metrics import REGISTRY

JOBS_ENQUEUED = Counter(
    "loumo_jobs_enqueued_total", "Jobs committed to the outbox", ["name"], registry=REGISTRY
)
JOBS_SUCCEEDED = Counter(
    "loumo_jobs_succeeded_total", "Job runs that succeeded", ["name"], registry=REGISTRY
)
JOBS_FAILED = Counter(
    "loumo_jobs_failed_total", "Job runs that raised an error", ["name"], registry=REGISTRY
)
JOBS_RETRIED = Counter(
    "loumo_jobs_retried_total", "Failed job runs scheduled again", ["name"], registry=REGISTRY
)
JOBS_DEAD = Counter(
    "loumo_jobs_dead_total", "Jobs that used up their attempts", ["name"], registry=REGISTRY
)
JOB_DURATION = Histogram(
    "loumo_job_duration_seconds",
    "Job run latency by name and outcome",
    ["name", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
