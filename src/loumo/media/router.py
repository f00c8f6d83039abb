"""Media HTTP: image uploads under /api/v1, and file serving at /media/{key} (local backend)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from loumo.core.auth import CurrentPrincipal
from loumo.core.db import SessionDep
from loumo.core.errors import NotFound
from loumo.core.http_cache import etag_matches, not_modified
from loumo.core.policy import policy
from loumo.media import intake
from loumo.media.dependencies import StorageDep
from loumo.media.keys import content_type_of, is_valid_key
from loumo.media.schemas import MediaRead
from loumo.media.storage import CACHE_CONTROL_IMMUTABLE, LocalStorage

router = APIRouter(prefix="/media", tags=["media"])
files_router = APIRouter(tags=["media"])


@router.post(
    "/images",
    summary="Upload a JPEG, PNG or WebP image",
    description=(
        "Answers its key and the URLs of its renditions. Uploads are limited per user per "
        "minute (429), in size (413), in pixels (413), in the bytes of a user's images not yet "
        "used anywhere (409), and by the decoding queue (503 with `Retry-After`). While the "
        "media store is down the answer is 503 `storage_unavailable` and nothing is kept."
    ),
    status_code=201,
    openapi_extra={
        **intake.upload_body(with_purpose=True, with_key=False),
        **policy("authenticated")["openapi_extra"],
    },
    responses={
        409: {"description": "This user's unused uploads would pass their quota"},
        413: {"description": "File or image too large"},
        415: {"description": "Not an image"},
        429: {"description": "Too many uploads by this user in the last minute"},
        503: {
            "description": "Too many images being processed, or the media store is down; "
            "retry after `Retry-After`"
        },
    },
)
async def upload_image(
    request: Request, principal: CurrentPrincipal, session: SessionDep, storage: StorageDep
) -> MediaRead:
    media = await intake.store_upload(request, session, storage, principal, purpose=None)
    return MediaRead.build(media, storage)


FILE_ROUTE: dict[str, Any] = {
    "description": "Keys are content hashes, so each answer is cacheable forever.",
    "responses": {200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
    **policy("public"),
}


@files_router.head("/media/{key:path}", summary="Headers of a stored file", **FILE_ROUTE)
@files_router.get("/media/{key:path}", summary="Serve a stored file", **FILE_ROUTE)
async def serve_media(key: str, request: Request, storage: StorageDep) -> Response:
    if not is_valid_key(key) or not isinstance(storage, LocalStorage):
        raise NotFound("No such file")
    path = storage.path(key)
    if not await asyncio.to_thread(path.is_file):
        raise NotFound("No such file")
    etag = '"' + key.replace("/", "-") + '"'
    headers = {
        "Cache-Control": CACHE_CONTROL_IMMUTABLE,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return not_modified(etag, headers)
    return FileResponse(
        path,
        media_type=content_type_of(key),
        headers={**headers, "ETag": etag},
    )
