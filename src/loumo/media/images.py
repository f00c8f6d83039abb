"""Image intake: judge the content, bound bytes and pixels, clean, re-encode, make renditions.

Only JPEG, PNG and WebP are accepted, recognised by their magic bytes and a Pillow decode, never by
a file name or a declared type. The output carries no metadata (EXIF, GPS, XMP, ICC, text chunks):
EXIF orientation is applied to the pixels, colours are converted to sRGB when a profile is
present, and every file is re-encoded from pixels alone. Decoding is CPU-bound and runs in a
worker thread (`process_image_async`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PIL import Image, ImageCms, ImageOps

from loumo.core.errors import PayloadTooLarge, UnsupportedMediaType
from loumo.media.keys import ORIGINAL, RENDITION_SIZES, original_key, rendition_key

DEFAULT_MAX_PIXELS = 40_000_000
READ_CHUNK = 64 * 1024
# A 40 MP image takes 160 MB decoded; bound how many are decoded at once per process.
MAX_CONCURRENT_DECODES = 2
_decode_slots = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)

_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ACCEPTED_CONTENT_TYPES = frozenset(_FORMATS.values())


class FileTooLarge(PayloadTooLarge):
    code, title = "file_too_large", "File too large"


class ImageTooLarge(PayloadTooLarge):
    code, title = "image_too_large", "Image dimensions too large"


class UnsupportedImage(UnsupportedMediaType):
    code, title = "unsupported_image", "Unsupported image"


@runtime_checkable
class AsyncReadable(Protocol):
    """Anything with an async ``read(size)``, such as FastAPI's `UploadFile`."""

    async def read(self, size: int = -1) -> bytes: ...


ImageSource = bytes | AsyncReadable | AsyncIterable[bytes]


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str
    key: str
    content_type: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """A cleaned image: its media key (sha256 of the cleaned original) and every file to store."""

    media_key: str
    original: Rendition
    renditions: tuple[Rendition, ...]

    @property
    def files(self) -> tuple[Rendition, ...]:
        return (self.original, *self.renditions)


async def read_limited(source: ImageSource, max_bytes: int) -> bytes:
    """Read `source` whole, refusing (413) as soon as it exceeds `max_bytes`."""
    if isinstance(source, bytes | bytearray):
        if len(source) > max_bytes:
            raise _too_many_bytes(max_bytes)
        return bytes(source)
    buffer = bytearray()
    if isinstance(source, AsyncReadable):
        while chunk := await source.read(READ_CHUNK):
            buffer += chunk
            if len(buffer) > max_bytes:
                raise _too_many_bytes(max_bytes)
    else:
        async for chunk in source:
            buffer += chunk
            if len(buffer) > max_bytes:
                raise _too_many_bytes(max_bytes)
    return bytes(buffer)


def _too_many_bytes(max_bytes: int) -> FileTooLarge:
    return FileTooLarge(f"The file exceeds the limit of {max_bytes} bytes", max_bytes=max_bytes)


def sniff_format(data: bytes) -> str | None:
    """The Pillow format name that the magic bytes announce, if it is one we accept."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _unsupported() -> UnsupportedImage:
    return UnsupportedImage(
        "The file is not a JPEG, PNG or WebP image",
        accepted=sorted(ACCEPTED_CONTENT_TYPES),
    )


def _open_checked(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    """Open, check dimensions before any decoding, verify the structure, and decode the pixels."""
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
            width, height = probe.size
            if width < 1 or height < 1:
                raise _unsupported()
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"The image has {width}x{height} pixels; the limit is {max_pixels} pixels",
                    max_pixels=max_pixels,
                )
            probe.verify()
        image = Image.open(io.BytesIO(data), formats=[fmt])
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning is an exception only where warnings are turned into errors.
        raise ImageTooLarge(
            f"The image declares more than {max_pixels} pixels", max_pixels=max_pixels
        ) from None
    except (UnsupportedImage, ImageTooLarge):
        raise
    except Exception:  # Pillow signals a malformed file with many exception types
        raise UnsupportedImage("The file is not a valid JPEG, PNG or WebP image") from None
    if image.format != fmt:
        raise _unsupported()
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (
        image.mode == "P" and "transparency" in image.info
    )


def _normalise(image: Image.Image) -> Image.Image:
    """Upright, sRGB, 8-bit RGB or RGBA pixels with no metadata attached."""
    upright = ImageOps.exif_transpose(image) or image
    target = "RGBA" if _has_alpha(upright) else "RGB"
    icc = upright.info.get("icc_profile")
    converted: Image.Image | None = None
    if icc and upright.mode in {"RGB", "RGBA", "CMYK", "L"}:
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(upright, source_profile, srgb, outputMode=target)
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None
    if converted is None:
        if upright.mode.startswith("I") and target == "RGB":
            # 16/32-bit greyscale: scale down to 8 bits before the colour conversion
            upright = upright.point(lambda value: value / 256).convert("L")
        converted = upright if upright.mode == target else upright.convert(target)
    if converted is image:
        converted = image.copy()
    converted.info.clear()
    return converted


def _encode(image: Image.Image, fmt: str, *, quality: int) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
    elif fmt == "PNG":
        image.save(out, format="PNG", compress_level=6)
    else:
        image.save(out, format="WEBP", quality=quality, method=4)
    return out.getvalue()


def process_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ProcessedImage:
    """Validate and clean `data`, returning the cleaned original and its WebP renditions.

    Raises `UnsupportedImage` (415) or `ImageTooLarge` (413). Blocking: call it in a thread.
    """
    fmt = sniff_format(data)
    if fmt is None:
        raise _unsupported()
    with _decode_slots:
        return _process(data, fmt, max_pixels)


def _process(data: bytes, fmt: str, max_pixels: int) -> ProcessedImage:
    with _open_checked(data, fmt, max_pixels) as decoded:
        image = _normalise(decoded)
    original_bytes = _encode(image, fmt, quality=88)
    media_key = hashlib.sha256(original_bytes).hexdigest()
    content_type = _FORMATS[fmt]
    original = Rendition(
        name=ORIGINAL,
        key=original_key(media_key, content_type),
        content_type=content_type,
        width=image.width,
        height=image.height,
        data=original_bytes,
    )
    renditions: list[Rendition] = []
    # Largest first, each from the previous one: cheaper than resizing the original every time.
    current = image
    for size in sorted(RENDITION_SIZES, reverse=True):
        if max(current.size) > size:
            current = current.copy()
            current.thumbnail((size, size), Image.Resampling.LANCZOS)
        renditions.append(
            Rendition(
                name=str(size),
                key=rendition_key(media_key, size),
                content_type="image/webp",
                width=current.width,
                height=current.height,
                data=_encode(current, "WEBP", quality=80),
            )
        )
    renditions.sort(key=lambda rendition: int(rendition.name))
    return ProcessedImage(media_key=media_key, original=original, renditions=tuple(renditions))


async def process_image_async(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ProcessedImage:
    """`process_image` in a worker thread, so that the event loop keeps serving."""
    return await asyncio.to_thread(process_image, data, max_pixels=max_pixels)
