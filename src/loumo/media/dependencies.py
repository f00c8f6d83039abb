"""FastAPI dependencies of the media package, for any router that stores or links images."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from loumo.media.images import MAX_CONCURRENT_DECODES, DecodeQueue
from loumo.media.storage import Storage, build_storage


async def get_storage(request: Request) -> Storage:
    """The app's storage backend, built from its settings on first use (async: a plain
    function dependency would run in a worker thread, a costly hop on every public read).

    Tests (or another backend) can set `app.state.storage` beforehand to replace it.
    """
    storage: Storage | None = getattr(request.app.state, "storage", None)
    if storage is None:
        storage = build_storage(request.app.state.settings)
        request.app.state.storage = storage
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]
WITH_STORAGE = {"storage": StorageDep}
"""`keywords=` of a `loumo.core.crud.CrudRoutes` route whose service call takes `storage=`."""


def get_decode_queue(request: Request) -> DecodeQueue:
    """The app's image decoding queue (`MEDIA_DECODE_QUEUE` uploads may wait), made on first
    use; tests may set `app.state.decode_queue` beforehand."""
    queue: DecodeQueue | None = getattr(request.app.state, "decode_queue", None)
    if queue is None:
        waiting: int = request.app.state.settings.media_decode_queue
        queue = DecodeQueue(slots=MAX_CONCURRENT_DECODES, waiting=waiting)
        request.app.state.decode_queue = queue
    return queue
