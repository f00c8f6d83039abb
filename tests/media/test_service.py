"""Reference counting and the collection of unreferenced files, on each storage backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.media import service
from loumo.media.models import MediaFile
from loumo.media.storage import Storage
from tests import images
from tests.media.conftest import stored_keys

LATER = timedelta(days=2)


async def _store(db: AsyncSession, storage: Storage, color: tuple[int, int, int]) -> str:
    """Store an image, commit, and answer its key."""
    media = await service.store_image(
        db,
        images.image_bytes("PNG", (300, 200), color=color),
        storage=storage,
        uploaded_by=None,
        purpose="category",
    )
    key = media.key
    await db.commit()
    return key


async def _count(db: AsyncSession, key: str) -> int:
    db.expire_all()
    media = await db.get(MediaFile, key)
    assert media is not None
    return media.reference_count


async def test_attach_and_detach_count_owners(db: AsyncSession, storage: Storage) -> None:
    media = await _store(db, storage, (10, 20, 30))

    await service.attach(db, media)
    await service.attach(db, media)
    await service.detach(db, media)
    await db.commit()
    assert await _count(db, media) == 1

    await service.replace(db, media, None)
    await service.detach(db, media)  # one detach too many never goes below zero
    await db.commit()
    assert await _count(db, media) == 0


async def test_attaching_an_unknown_key_is_404(db: AsyncSession) -> None:
    for key in ("0" * 64, "not-a-key", "0" * 64 + "/480.webp"):
        with pytest.raises(service.MediaNotFound) as caught:
            await service.attach(db, key)
        assert caught.value.status == 404


async def test_collection_removes_only_stale_unreferenced_files(
    db: AsyncSession, storage: Storage
) -> None:
    used = await _store(db, storage, (1, 1, 1))
    unused = await _store(db, storage, (2, 2, 2))
    await service.attach(db, used)
    await db.commit()

    # Within the grace period nothing goes, not even unreferenced files.
    assert await service.collect_unreferenced(db, storage) == 0
    assert len(stored_keys(storage)) == 8

    assert await service.collect_unreferenced(db, storage, now=utcnow() + LATER) == 1
    await db.commit()

    assert stored_keys(storage) == {
        f"{used}/{name}" for name in ("original.png", "160.webp", "480.webp", "1200.webp")
    }
    db.expire_all()
    assert await db.get(MediaFile, unused) is None
    assert await db.get(MediaFile, used) is not None

    # Idempotent: a second run (or a retried job) finds nothing more to do.
    assert await service.collect_unreferenced(db, storage, now=utcnow() + LATER) == 0


async def test_a_rolled_back_collection_is_redone_by_the_next_run(
    db: AsyncSession, storage: Storage
) -> None:
    media = await _store(db, storage, (3, 3, 3))
    assert await service.collect_unreferenced(db, storage, now=utcnow() + LATER) == 1
    await db.rollback()
    assert await db.get(MediaFile, media) is not None

    assert await service.collect_unreferenced(db, storage, now=utcnow() + LATER) == 1
    await db.commit()
    assert stored_keys(storage) == set()


async def test_detaching_restarts_the_grace_period(db: AsyncSession, storage: Storage) -> None:
    media = await _store(db, storage, (4, 4, 4))
    await service.attach(db, media)
    await db.commit()
    await service.detach(db, media)
    await db.commit()

    assert await service.collect_unreferenced(db, storage, now=utcnow() + timedelta(hours=1)) == 0
    assert await service.collect_unreferenced(db, storage, now=utcnow() + LATER) == 1


async def test_uploading_a_collected_image_again_restores_its_files(
    db: AsyncSession, storage: Storage
) -> None:
    media = await _store(db, storage, (5, 5, 5))
    await service.collect_unreferenced(db, storage, now=utcnow() + LATER)
    await db.commit()
    assert stored_keys(storage) == set()

    again = await _store(db, storage, (5, 5, 5))

    assert again == media
    assert len(stored_keys(storage)) == 4


async def test_uploading_again_repairs_missing_files(db: AsyncSession, storage: Storage) -> None:
    # As after a collection that deleted the files and then failed to commit.
    key = await _store(db, storage, (6, 6, 6))
    for stored in stored_keys(storage):
        await storage.delete(stored)

    assert await _store(db, storage, (6, 6, 6)) == key
    assert len(stored_keys(storage)) == 4


def test_rendition_urls_come_from_the_key_alone(storage: Storage) -> None:
    key = "f" * 64
    urls = service.image_urls(storage, key)
    assert set(urls) == {"160", "480", "1200"}
    assert f"{key}/480.webp" in urls["480"]
