"""Media rules: store an upload once per content hash, count references, collect the unused.

Owning packages (catalog, shops, accounts, delivery) keep a media key in their rows and call
`attach(session, key)` when an object starts using an image and `detach(session, key)` when it
stops (deleted, or the image replaced). `collect_unreferenced` removes files nobody has used for
a grace period; the jobs package runs it periodically.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import insert_ignoring_conflicts, utcnow
from loumo.core.errors import BadRequest, Conflict, NotFound
from loumo.media.images import (
    DEFAULT_MAX_PIXELS,
    DecodeQueue,
    ImageSource,
    ProcessedImage,
    process_image_async,
    read_limited,
)
from loumo.media.keys import ORIGINAL, RENDITION_SIZES, is_media_key, rendition_key
from loumo.media.models import MediaFile
from loumo.media.schemas import Purpose
from loumo.media.storage import Storage

DEFAULT_MAX_BYTES = 5 * 1_048_576
UNREFERENCED_GRACE = timedelta(hours=24)
COLLECT_BATCH = 500

logger = structlog.get_logger("loumo.media")


class MediaNotFound(NotFound):
    code, title = "media_not_found", "Media not found"


class UploadQuotaExceeded(Conflict):
    """The uploader's files not yet attached to anything would take more than their quota."""

    code, title = "upload_quota_exceeded", "Upload quota exceeded"


class UnknownImage(BadRequest):
    """A request body names a media key that was never uploaded (or has been collected)."""

    code, title = "unknown_image", "Unknown image"


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


async def get(session: AsyncSession, key: str) -> MediaFile:
    media = await session.get(MediaFile, key) if is_media_key(key) else None
    if media is None:
        raise MediaNotFound(f"No image has the key {key!r}")
    return media


async def store_image(
    session: AsyncSession,
    source: ImageSource,
    *,
    storage: Storage,
    uploaded_by: str | None,
    purpose: Purpose,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    decode_queue: DecodeQueue | None = None,
    quota_bytes: int | None = None,
) -> MediaFile:
    """Validate, clean and store an image, or return the stored one with the same content.

    Nothing is written (no file, no row) unless the image is accepted. Raises `FileTooLarge` or
    `ImageTooLarge` (413), `UnsupportedImage` (415), `DecodersBusy` (503), `StorageUnavailable`
    (503: the store is down; the caller's transaction then keeps no row) and, when a new file
    would take `uploaded_by`'s unattached files past `quota_bytes`, `UploadQuotaExceeded`
    (409). The database is first used once the image is decoded and cleaned. The new file
    starts with no references: attach it to an owner within the grace period or it is
    collected.
    """
    data = await read_limited(source, max_bytes)
    processed = await process_image_async(data, max_pixels=max_pixels, queue=decode_queue)
    del data
    known = await _touch(session, processed.media_key)
    if not known and quota_bytes is not None and uploaded_by is not None:
        await _check_quota(session, uploaded_by, processed, quota_bytes)
    # Objects are (re)written before the row is inserted, so that a row always has its files,
    # even after a collection whose transaction failed once its files were gone. Identical keys
    # hold identical bytes, so racing identical uploads are harmless.
    written = await asyncio.gather(
        *(storage.put(item.key, item.data, item.content_type) for item in processed.files),
        return_exceptions=True,
    )
    failures = [result for result in written if isinstance(result, BaseException)]
    if failures:
        if not known:
            # The upload is refused whole: files of it that did reach the store go too, or no
            # row would ever lead the collection to them.
            stored = zip(processed.files, written, strict=True)
            await _remove_partial(storage, [item.key for item, r in stored if r is None])
        raise failures[0]
    if not known:
        await _insert(session, processed, uploaded_by=uploaded_by, purpose=purpose)
    media = await session.get(MediaFile, processed.media_key, populate_existing=True)
    assert media is not None
    logger.info(
        "media_stored",
        key=media.key,
        purpose=purpose,
        uploaded_by=uploaded_by,
        bytes=media.bytes,
        content_type=media.content_type,
    )
    return media


async def _remove_partial(storage: Storage, keys: list[str]) -> None:
    """Best effort: delete the files of an upload whose other files could not be stored."""
    removed = await asyncio.gather(*(storage.delete(key) for key in keys), return_exceptions=True)
    left = [key for key, result in zip(keys, removed, strict=True) if result is not None]
    if left:
        logger.warning("media_partial_upload_left", keys=left)


def _stored_bytes() -> Any:
    """SQL for the bytes of every file of a stored image (original and renditions)."""
    names = [ORIGINAL, *(str(size) for size in RENDITION_SIZES)]
    total: Any = 0
    for name in names:
        total = total + func.coalesce(MediaFile.renditions[(name, "bytes")].as_integer(), 0)
    return total


async def unattached_bytes(session: AsyncSession, user_id: str) -> int:
    """Bytes taken by the files `user_id` uploaded that nothing uses (yet)."""
    used = await session.scalar(
        select(func.coalesce(func.sum(_stored_bytes()), 0)).where(
            MediaFile.uploaded_by == user_id, MediaFile.reference_count == 0
        )
    )
    return int(used or 0)


async def _check_quota(
    session: AsyncSession, user_id: str, processed: ProcessedImage, quota_bytes: int
) -> None:
    """Refuse a new file that would take the uploader's unattached files past the quota.

    Two uploads racing may both pass: the quota is then exceeded by at most one file each.
    """
    used = await unattached_bytes(session, user_id)
    needed = sum(len(item.data) for item in processed.files)
    if used + needed > quota_bytes:
        raise UploadQuotaExceeded(
            f"Your uploads not yet used anywhere take {used} bytes; this one needs {needed} "
            f"more and the limit is {quota_bytes}. Use or wait for them to be collected.",
            quota_bytes=quota_bytes,
            used_bytes=used,
        )


async def _touch(session: AsyncSession, key: str) -> bool:
    """Mark an existing file as just uploaded again, restarting its grace period.

    The update also locks the row (on PostgreSQL) until commit, so a concurrent collection
    cannot delete it in the meantime.
    """
    result = await session.execute(
        update(MediaFile)
        .where(MediaFile.key == key)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def _insert(
    session: AsyncSession, processed: ProcessedImage, *, uploaded_by: str | None, purpose: str
) -> None:
    original = processed.original
    now = utcnow()
    values = {
        "key": processed.media_key,
        "content_type": original.content_type,
        "width": original.width,
        "height": original.height,
        "bytes": len(original.data),
        "renditions": {
            item.name: {
                "key": item.key,
                "content_type": item.content_type,
                "width": item.width,
                "height": item.height,
                "bytes": len(item.data),
            }
            for item in processed.files
        },
        "purpose": purpose,
        "uploaded_by": uploaded_by,
        "reference_count": 0,
        "created_at": now,
        "updated_at": now,
    }
    # An identical upload committed meanwhile wins; ours is then the same file.
    await session.execute(
        insert_ignoring_conflicts(session, MediaFile, index_elements=["key"]).values(**values)
    )


async def attach(session: AsyncSession, key: str) -> None:
    """Count one more owner of `key`; raises `MediaNotFound` (404) for an unknown key."""
    if not is_media_key(key):
        raise MediaNotFound(f"No image has the key {key!r}")
    result = await session.execute(
        update(MediaFile)
        .where(MediaFile.key == key)
        .values(reference_count=MediaFile.reference_count + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        raise MediaNotFound(f"No image has the key {key!r}")


async def detach(session: AsyncSession, key: str) -> None:
    """Count one owner fewer; once none is left the file is collected after the grace period."""
    result = await session.execute(
        update(MediaFile)
        .where(MediaFile.key == key, MediaFile.reference_count > 0)
        .values(reference_count=MediaFile.reference_count - 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        logger.warning("media_detach_without_reference", key=key)


async def replace(session: AsyncSession, old_key: str | None, new_key: str | None) -> None:
    """Move one owner from `old_key` to `new_key` (either may be None); a no-op if equal."""
    if old_key == new_key:
        return
    if new_key is not None:
        await attach(session, new_key)
    if old_key is not None:
        await detach(session, old_key)


async def update_references(
    session: AsyncSession,
    before: Iterable[str | None],
    after: Iterable[str | None],
    *,
    field: str,
) -> None:
    """Move an owner's references from the keys in `before` to those in `after`.

    Counts are per occurrence (None entries are ignored), so a list of images and a single
    image field are handled alike. New keys are attached before old ones are detached; an
    unknown new key raises `UnknownImage` (400, naming `field`), and the caller's unit of work
    then rolls everything back.
    """
    old = Counter(key for key in before if key is not None)
    new = Counter(key for key in after if key is not None)
    for key, count in (new - old).items():
        for _ in range(count):
            try:
                await attach(session, key)
            except MediaNotFound:
                raise UnknownImage(
                    f"No uploaded image has the key {key!r}; upload it first", field=field
                ) from None
    for key, count in (old - new).items():
        for _ in range(count):
            await detach(session, key)


def image_read(storage: Storage, key: str) -> dict[str, Any]:
    """How reads show an image: its key, a display URL (the largest WebP rendition) and the
    URLs of every rendition by size, all computed from the key alone (no query)."""
    thumbnails = image_urls(storage, key)
    return {"key": key, "url": thumbnails[str(max(RENDITION_SIZES))], "thumbnails": thumbnails}


def image_urls(storage: Storage, key: str) -> dict[str, str]:
    """URLs of the WebP renditions of `key` by size (``{"160": url, ...}``), without a query.

    Renditions exist for every size (never upscaled), so lists can link thumbnails from the key.
    """
    return {str(size): storage.url(rendition_key(key, size)) for size in RENDITION_SIZES}


async def collect_unreferenced(
    session: AsyncSession,
    storage: Storage,
    *,
    grace: timedelta = UNREFERENCED_GRACE,
    now: datetime | None = None,
    batch: int = COLLECT_BATCH,
) -> int:
    """Delete up to `batch` files unreferenced for longer than `grace`; returns how many.

    Idempotent and safe to run concurrently: each row is deleted only if it is still
    unreferenced and stale at that moment, and its files only by the run that deleted it. If the
    transaction then fails, the row stays and the next run removes it again (deleting a missing
    object is a no-op).
    """
    cutoff = (now or utcnow()) - grace
    stale = (
        MediaFile.reference_count == 0,
        MediaFile.updated_at < cutoff,
    )
    candidates = (
        await session.execute(
            select(MediaFile.key, MediaFile.renditions)
            .where(*stale)
            .order_by(MediaFile.updated_at)
            .limit(batch)
        )
    ).all()
    deleted = 0
    for key, renditions in candidates:
        result = await session.execute(
            delete(MediaFile)
            .where(MediaFile.key == key, *stale)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            continue
        await asyncio.gather(*(storage.delete(entry["key"]) for entry in renditions.values()))
        deleted += 1
    if deleted:
        logger.info("media_collected", deleted=deleted)
    return deleted
