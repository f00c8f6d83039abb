"""Where media bytes live: a small interface, local disk by default, any S3-compatible store.

Keys are relative, slash-separated paths such as ``{sha256}/480.webp``; callers validate them
(see `loumo.media.keys`) before they reach a backend. The S3 SDK is blocking, so every call to it
runs in a worker thread and never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from loumo.core.errors import Unavailable
from loumo.core.settings import ConfigurationError, Settings
from loumo.media.keys import is_valid_key

T = TypeVar("T")
logger = structlog.get_logger("loumo.media.storage")

PRESIGNED_URL_TTL_SECONDS = 3600
CACHE_CONTROL_IMMUTABLE = "public, max-age=31536000, immutable"


class StoredFileNotFound(LookupError):
    """The backend holds nothing under that key."""


class StorageUnavailable(Unavailable):
    """The object store does not answer (refused, timed out, or a 5xx after the SDK's retries):
    a 503 with `Retry-After`; nothing of the request is kept (see `service.store_image`)."""

    code, title = "storage_unavailable", "Storage unavailable"

    def __init__(self) -> None:
        super().__init__("The media store is unavailable; try again shortly")


def _checked(key: str) -> str:
    if not is_valid_key(key):
        raise ValueError(f"invalid media key: {key!r}")
    return key


class Storage(ABC):
    """A flat store of immutable, content-addressed objects."""

    @abstractmethod
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any previous object, all or nothing."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """Return the bytes under `key`; raise `StoredFileNotFound` when there are none."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    def url(self, key: str) -> str:
        """A URL a client can GET the object from (computed locally, no I/O)."""


class LocalStorage(Storage):
    """Files under a root directory, served by the app at ``{base_url}/media/{key}``."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root.resolve()
        self.base_url = base_url.rstrip("/")

    def path(self, key: str) -> Path:
        """The file for `key`; keys are validated so that no path leaves the root."""
        return self.root / _checked(key)

    def _write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        # Write a sibling temporary file, then rename: readers see the old file or the new one,
        # never a half-written one.
        fd, tmp = self._temporary_file(target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # public media: a proxy may serve them
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def _temporary_file(folder: Path) -> tuple[int, str]:
        # A concurrent delete may remove the (then empty) folder between mkdir and mkstemp.
        for _ in range(2):
            folder.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                return tempfile.mkstemp(dir=folder, prefix=".tmp-")
        folder.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=folder, prefix=".tmp-")

    def _read(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StoredFileNotFound(key) from None

    def _delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: another object still lives there
            path.parent.rmdir()

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    def url(self, key: str) -> str:
        return f"{self.base_url}/media/{_checked(key)}"


class S3Storage(Storage):
    """Objects in an S3-compatible bucket (AWS S3, MinIO, R2...) through boto3.

    URLs are ``{public_base_url}/{key}`` when the bucket (or a CDN before it) is public, else
    pre-signed GET URLs valid for `presign_ttl` seconds.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        public_base_url: str | None = None,
        presign_ttl: int = PRESIGNED_URL_TTL_SECONDS,
    ) -> None:
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.presign_ttl = presign_ttl
        # Typed loosely: the S3 stubs (types-boto3-s3) are not a dependency of the project.
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function` in a worker thread; a store that does not answer is `StorageUnavailable`
        (its address and the SDK's words go to the log only)."""
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (EndpointUnreachable, HTTPClientError) as exc:
            logger.warning("storage_unreachable", error=f"{type(exc).__name__}: {exc}")
            raise StorageUnavailable() from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if int(status) < 500:
                raise
            logger.warning("storage_unreachable", error=f"{_error_code(exc)} ({status})")
            raise StorageUnavailable() from exc

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call(
            self.client.put_object,
            Bucket=self.bucket,
            Key=_checked(key),
            Body=data,
            ContentType=content_type,
            CacheControl=CACHE_CONTROL_IMMUTABLE,
        )

    def _get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=_checked(key))
        except ClientError as exc:
            if _error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
                raise StoredFileNotFound(key) from None
            raise
        body: bytes = response["Body"].read()
        return body

    async def get(self, key: str) -> bytes:
        return await self._call(self._get, key)

    async def delete(self, key: str) -> None:
        await self._call(self.client.delete_object, Bucket=self.bucket, Key=_checked(key))

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=_checked(key))
        except ClientError as exc:
            if _error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise
        return True

    async def exists(self, key: str) -> bool:
        return await self._call(self._exists, key)

    def url(self, key: str) -> str:
        if self.public_base_url:
            return f"{self.public_base_url}/{_checked(key)}"
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": _checked(key)},
            ExpiresIn=self.presign_ttl,
        )
        return url


def _error_code(exc: ClientError) -> str:
    error: Any = exc.response.get("Error", {})
    return str(error.get("Code", ""))


def build_storage(settings: Settings) -> Storage:
    """The backend that `STORAGE_BACKEND` names, configured from the settings."""
    if settings.storage_backend == "s3":
        if not settings.s3_bucket:
            raise ConfigurationError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        secret = settings.s3_secret_access_key
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            public_base_url=settings.s3_public_base_url,
        )
    return LocalStorage(settings.media_root, settings.public_base_url)
