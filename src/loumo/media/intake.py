"""Image request bodies, for every route that takes an image: an upload or a known media key.

Routes that set an owner's image (`POST /products/{id}/images`, `PUT /shops/{id}/image`...)
accept either a multipart upload (`file`), stored through `service.store_image`, or a JSON body
`{"key": ...}` naming an image uploaded before. Uploads are limited per user per minute
(`MEDIA_UPLOADS_PER_MINUTE`) with the app's shared rate limiter. The body has arrived whole
before the route runs (`core.request_guard`), and the caller was looked up in a session of its
own, so no pooled connection is held while an upload arrives or waits for a decoding thread
(`MEDIA_DECODE_QUEUE`, 503 beyond); images past `MEDIA_MAX_PIXELS` are refused from their
header, and a user's files not yet attached anywhere are bounded by
`MEDIA_UNATTACHED_QUOTA_BYTES` (409).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from loumo.core.auth import Principal
from loumo.core.errors import UnsupportedMediaType
from loumo.core.ratelimit import RateLimiter, Rule
from loumo.core.responses import described
from loumo.media import service
from loumo.media.dependencies import get_decode_queue
from loumo.media.models import MediaFile
from loumo.media.schemas import ImageRef, Purpose, UploadForm
from loumo.media.storage import Storage

UPLOAD_RULE = "media-upload"
PURPOSES = ["product", "variant", "category", "shop", "user", "delivery_proof"]


@lru_cache
def upload_rule(per_minute: int) -> Rule:
    return Rule(UPLOAD_RULE, f"{per_minute}/minute")


async def limit_uploads(request: Request, principal: Principal) -> None:
    """Count one upload by the caller; 429 with `Retry-After` past the per-minute limit."""
    limiter: RateLimiter = request.app.state.rate_limiter
    per_minute: int = request.app.state.settings.media_uploads_per_minute
    await limiter.hit(upload_rule(per_minute), principal.user_id)


def _validation_error(exc: ValidationError) -> RequestValidationError:
    return RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in exc.errors()])


def missing_file() -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", "file"), "msg": "Field required", "type": "missing"}]
    )


async def store_upload(
    request: Request,
    session: AsyncSession,
    storage: Storage,
    principal: Principal,
    *,
    purpose: Purpose | None,
) -> MediaFile:
    """Store the multipart upload of `request` (rate limited); `purpose` None reads the form's
    `purpose` field."""
    await limit_uploads(request, principal)
    async with request.form(max_files=1, max_fields=8) as form:
        if purpose is None:
            try:
                fields = UploadForm.model_validate(
                    {k: v for k, v in form.items() if isinstance(v, str)}
                )
            except ValidationError as exc:
                raise _validation_error(exc) from None
            purpose = fields.purpose
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise missing_file()
        settings = request.app.state.settings
        return await service.store_image(
            session,
            upload,
            storage=storage,
            uploaded_by=principal.user_id,
            purpose=purpose,
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.media_max_pixels,
            decode_queue=get_decode_queue(request),
            quota_bytes=settings.media_unattached_quota_bytes,
        )


async def image_key(
    request: Request,
    session: AsyncSession,
    storage: Storage,
    principal: Principal,
    *,
    purpose: Purpose,
) -> str:
    """The media key a request body gives: a fresh upload's, or a JSON `{"key"}` one's.

    A JSON key is only checked for shape here; attaching it to its owner checks it exists.
    """
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        media = await store_upload(request, session, storage, principal, purpose=purpose)
        return media.key
    if content_type.startswith("application/json"):
        try:
            return ImageRef.model_validate_json(await request.body()).key
        except ValidationError as exc:
            raise _validation_error(exc) from None
    raise UnsupportedMediaType(
        'Send the image as multipart/form-data (`file`) or JSON {"key": "<media key>"}'
    )


UPLOAD_RESPONSES = described(
    {
        400: "Unknown media key",
        413: "File or image too large",
        415: "Not a JPEG, PNG or WebP image (or neither multipart nor JSON)",
        429: "Too many uploads by this user in the last minute",
    }
)
"""What a route that takes an image through `image_key` may answer besides its own errors."""


def upload_body(*, with_purpose: bool = False, with_key: bool = True) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route that reads its body itself through this module."""
    properties: dict[str, Any] = {
        "file": {"type": "string", "format": "binary", "description": "A JPEG, PNG or WebP image"}
    }
    required = ["file"]
    if with_purpose:
        properties["purpose"] = {"type": "string", "enum": PURPOSES}
        required.append("purpose")
    content: dict[str, Any] = {
        "multipart/form-data": {
            "schema": {"type": "object", "required": required, "properties": properties}
        }
    }
    if with_key:
        content["application/json"] = {"schema": ImageRef.model_json_schema()}
    return {"requestBody": {"required": True, "content": content}}
