"""Media keys: a content hash, and the object names of its renditions under it.

A media key is the sha256 of the cleaned original (64 lowercase hex digits). Its objects are
``{hash}/original.{jpg|png|webp}`` and ``{hash}/{size}.webp`` for each rendition size. Every key
that reaches storage or a URL path matches `OBJECT_KEY_RE`, so no path can leave the media root.
"""

from __future__ import annotations

import re

RENDITION_SIZES: tuple[int, ...] = (160, 480, 1200)
ORIGINAL = "original"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
CONTENT_TYPES = {ext: content_type for content_type, ext in EXTENSIONS.items()}

MEDIA_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
OBJECT_KEY_RE = re.compile(
    r"^(?P<hash>[0-9a-f]{64})/"
    r"(?:original\.(?P<ext>jpg|png|webp)|(?P<size>"
    + "|".join(str(size) for size in RENDITION_SIZES)
    + r")\.webp)$"
)


def is_media_key(key: str) -> bool:
    return MEDIA_KEY_RE.fullmatch(key) is not None


def is_valid_key(key: str) -> bool:
    """True for an object key (an original or a rendition) of a well-formed media key."""
    return OBJECT_KEY_RE.fullmatch(key) is not None


def original_key(media_key: str, content_type: str) -> str:
    return f"{media_key}/{ORIGINAL}.{EXTENSIONS[content_type]}"


def rendition_key(media_key: str, size: int) -> str:
    return f"{media_key}/{size}.webp"


def content_type_of(key: str) -> str:
    """The content type an object key stands for (its extension is fixed by the key scheme)."""
    match = OBJECT_KEY_RE.fullmatch(key)
    if match is None:
        raise ValueError(f"invalid media key: {key!r}")
    return CONTENT_TYPES[match["ext"] or "webp"]
