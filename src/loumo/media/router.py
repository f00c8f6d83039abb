"""Media HTTP: image uploads under /api/v1, and file serving at /media/{key} (local backend)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from loumo.core.auth import CurrentPrincipal
from loumo.core.db import SessionDep
from loumo.core.errors import NotFound
from loumo.core.http_cache import etag_matches, not_modified
from loumo.core.policy import policy
from loumo.media import service
from loumo.media.dependencies import StorageDep
from loumo.media.keys import content_type_of, is_valid_key
from loumo.media.schemas import MediaRead, UploadForm
from loumo.media.storage import CACHE_CONTROL_IMMUTABLE, LocalStorage

router = APIRouter(prefix="/media", tags=["media"])
files_router = APIRouter(tags=["media"])

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A JPEG, PNG or WebP image",
                        },
                        "purpose": {
                            "type": "string",
                            "enum": [
                                "product",
                                "variant",
                                "category",
                                "shop",
                                "user",
                                "delivery_proof",
                            ],
                        },
                    },
                }
            }
        },
    }
}


def _missing_file() -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", "file"), "msg": "Field required", "type": "missing"}]
    )


@router.post(
    "/images",
    status_code=201,
    response_model=MediaRead,
    openapi_extra={**_UPLOAD_BODY, **policy("authenticated")["openapi_extra"]},
    responses={
        413: {"description": "File or image too large"},
        415: {"description": "Not an image"},
    },
)
async def upload_image(
    request: Request, principal: CurrentPrincipal, session: SessionDep, storage: StorageDep
) -> MediaRead:
    """Upload a JPEG, PNG or WebP image; answers its key and the URLs of its renditions.

    The body is read only once the caller is authenticated, so that anonymous clients cannot
    make the server take in uploads.
    """
    max_bytes: int = request.app.state.settings.max_upload_bytes
    async with request.form(max_files=1, max_fields=8) as form:
        try:
            fields = UploadForm.model_validate(
                {k: v for k, v in form.items() if isinstance(v, str)}
            )
        except ValidationError as exc:
            raise RequestValidationError(
                [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
            ) from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _missing_file()
        media = await service.store_image(
            session,
            upload,
            storage=storage,
            uploaded_by=principal.user_id,
            purpose=fields.purpose,
            max_bytes=max_bytes,
        )
    return MediaRead.build(media, storage)


@files_router.api_route(
    "/media/{key:path}", methods=["GET", "HEAD"], include_in_schema=False, **policy("public")
)
async def serve_media(key: str, request: Request, storage: StorageDep) -> Response:
    """Serve a stored file; keys are content hashes, so each answer is cacheable forever."""
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
