"""Media fixtures: a caller's access token, a local or S3 (moto server) storage per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi import FastAPI

from loumo.media.storage import LocalStorage, S3Storage, Storage
from tests.private_services import moto_s3

S3_CREDENTIALS: dict[str, Any] = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}
S3_REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API: moto's server on a free loopback port, for the whole run."""
    with moto_s3() as server:
        yield server.endpoint


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
    )


def make_s3_storage(endpoint: str, *, public_base_url: str | None = None) -> S3Storage:
    bucket = f"loumo-test-{uuid.uuid4().hex[:16]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return S3Storage(
        bucket,
        endpoint_url=endpoint,
        region=S3_REGION,
        access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
        public_base_url=public_base_url,
    )


def stored_keys(storage: Storage) -> set[str]:
    """Every object a backend holds (temporary files included, for a local disk)."""
    if isinstance(storage, LocalStorage):
        if not storage.root.exists():
            return set()
        return {
            p.relative_to(storage.root).as_posix() for p in storage.root.rglob("*") if p.is_file()
        }
    assert isinstance(storage, S3Storage)
    response = storage.client.list_objects_v2(Bucket=storage.bucket)
    return {item["Key"] for item in response.get("Contents", [])}


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """An empty storage of each backend, so that every test sees exactly what it stored."""
    if request.param == "local":
        return LocalStorage(tmp_path / "media", "http://testserver")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return make_s3_storage(endpoint)


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", "http://testserver")


@pytest.fixture
def app_storage(app: FastAPI, storage: Storage, monkeypatch: pytest.MonkeyPatch) -> Storage:
    """Make the app store uploads in `storage` (each backend in turn)."""
    monkeypatch.setattr(app.state, "storage", storage, raising=False)
    return storage


@pytest.fixture
def app_local_storage(
    app: FastAPI, local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> LocalStorage:
    monkeypatch.setattr(app.state, "storage", local_storage, raising=False)
    return local_storage
