"""Image intake: judge the content, bound bytes and pixels, clean, re-encode, make renditions.

Only JPEG, PNG and WebP are accepted, recognised by their magic bytes and a Pillow decode, never by
a file name or a declared type. The output carries no metadata (EXIF, GPS, XMP, ICC, text chunks):
EXIF orientation is applied to the pixels, colours are converted to sRGB when a profile is
present, and every file is re-encoded from pixels alone. Decoding is CPU-bound: it runs on the
few threads of a `DecodeQueue`, where at most a set number of uploads may wait (503 with
`Retry-After` beyond), so that a burst of uploads neither piles up nor takes the threads the
rest of the server uses.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from collections.abc import AsyncIterable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from PIL import Image, ImageCms, ImageOps, JpegImagePlugin

from loumo.core.errors import PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType
from loumo.media.keys import ORIGINAL, RENDITION_SIZES, original_key, rendition_key

DEFAULT_MAX_PIXELS = 40_000_000
READ_CHUNK = 64 * 1024
# A 40 MP image takes 160 MB decoded; bound how many are decoded at once per process.
MAX_CONCURRENT_DECODES = 2
DEFAULT_DECODE_QUEUE = 8
DECODE_RETRY_AFTER_SECONDS = 2
_decode_slots = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)

T = TypeVar("T")

_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ACCEPTED_CONTENT_TYPES = frozenset(_FORMATS.values())


class FileTooLarge(PayloadTooLarge):
    code, title = "file_too_large", "File too large"


class ImageTooLarge(PayloadTooLarge):
    code, title = "image_too_large", "Image dimensions too large"


class UnsupportedImage(UnsupportedMediaType):
    code, title = "unsupported_image", "Unsupported image"


class DecodersBusy(ServiceUnavailable):
    code, title = "image_decoders_busy", "Image decoders busy"

    def __init__(self, retry_after: int = DECODE_RETRY_AFTER_SECONDS) -> None:
        super().__init__("Too many images are being processed; try again shortly")
        self.headers["Retry-After"] = str(retry_after)


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


# What a kept upload may hold besides pixels: nothing that carries text, a location or colour
# data that the renditions would not show (see `_keepable`).
_PNG_PLAIN_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"pHYs", b"sRGB"})
_PLAIN_MODES = frozenset({"RGB", "RGBA", "L", "LA", "P"})


def _png_is_plain(data: bytes) -> bool:
    """Every chunk is pixels or their layout: no text, EXIF, ICC, animation or private chunk,
    and nothing after IEND."""
    position = 8
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        position += 12 + length
        if kind not in _PNG_PLAIN_CHUNKS:
            return False
        if kind == b"IEND":
            return position == len(data)
    return False


def _keepable(data: bytes, fmt: str, decoded: Image.Image) -> bool:
    """Whether the validated upload itself may be stored as the original: 8-bit pixels that
    need no rotation or colour conversion, and no metadata nor trailing bytes at all."""
    if decoded.mode not in _PLAIN_MODES:
        return False
    if fmt == "PNG":
        return _png_is_plain(data)
    if fmt == "JPEG":
        applist = getattr(decoded, "applist", [])
        plain = all(
            (marker == "APP0" and body.startswith(b"JFIF"))
            or (marker == "APP14" and body.startswith(b"Adobe"))
            for marker, body in applist
        )
        return plain and decoded.mode in {"RGB", "L"} and data.endswith(b"\xff\xd9")
    # WebP: only the simple lossy or lossless layout (no VP8X: no EXIF, XMP, ICC, animation).
    riff_size = int.from_bytes(data[4:8], "little")
    return data[12:16] in {b"VP8 ", b"VP8L"} and riff_size + 8 == len(data)


def _original_bytes(data: bytes, fmt: str, decoded: Image.Image, image: Image.Image) -> bytes:
    """The stored original, never larger than needed: the cleaned pixels re-encoded, unless the
    upload is smaller and carries nothing to clean (then it is kept as it came); a JPEG that
    must be cleaned is tried again with the upload's own quantization tables, a WebP at lower
    qualities, and the smallest clean encoding wins."""
    encoded = _encode(image, fmt, quality=88)
    if len(encoded) <= len(data):
        return encoded
    if _keepable(data, fmt, decoded):
        return data
    candidates = [encoded]
    if fmt == "JPEG" and getattr(decoded, "quantization", None):
        out = io.BytesIO()
        image.save(
            out,
            format="JPEG",
            qtables=decoded.quantization,  # type: ignore[attr-defined]
            subsampling=max(JpegImagePlugin.get_sampling(decoded), 0),
            optimize=True,
            progressive=True,
        )
        candidates.append(out.getvalue())
    elif fmt == "WEBP":
        for quality in (75, 60):
            candidates.append(_encode(image, fmt, quality=quality))
            if len(candidates[-1]) <= len(data):
                break
    return min(candidates, key=len)


def _process(data: bytes, fmt: str, max_pixels: int) -> ProcessedImage:
    with _open_checked(data, fmt, max_pixels) as decoded:
        image = _normalise(decoded)
        original_bytes = _original_bytes(data, fmt, decoded, image)
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


class DecodeQueue:
    """Runs decodes on `slots` threads of its own; at most `waiting` more uploads wait for one.

    An upload that finds the queue full is refused at once (`DecodersBusy`: 503 with
    `Retry-After`) rather than waiting without bound; waiting happens on the event loop, never
    on a thread of the default pool (which file and storage calls use). One per process.
    """

    def __init__(self, slots: int = MAX_CONCURRENT_DECODES, waiting: int = DEFAULT_DECODE_QUEUE):
        self.capacity = slots + waiting
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="image-decode")
        self._admitted = 0
        self._lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """Uploads decoding or waiting to."""
        return self._admitted

    async def process(self, data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ProcessedImage:
        """`process_image` on a decoding thread, once admitted; `DecodersBusy` when full."""
        return await self.run(lambda: process_image(data, max_pixels=max_pixels))

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` on a decoding thread, once admitted; `DecodersBusy` when the queue is full."""
        with self._lock:
            if self._admitted >= self.capacity:
                raise DecodersBusy()
            self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        finally:
            with self._lock:
                self._admitted -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


_default_queue: DecodeQueue | None = None


def default_decode_queue() -> DecodeQueue:
    """The process's queue with the default sizes (for callers without settings)."""
    global _default_queue
    if _default_queue is None:
        _default_queue = DecodeQueue()
    return _default_queue


async def process_image_async(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, queue: DecodeQueue | None = None
) -> ProcessedImage:
    """`process_image` through `queue` (the default one if None), off the event loop."""
    return await (queue or default_decode_queue()).process(data, max_pixels=max_pixels)
