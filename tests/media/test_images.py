"""Image intake: content sniffing, limits, metadata stripping and renditions (no app needed)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import ExifTags, Image

from loumo.media.images import (
    FileTooLarge,
    ImageTooLarge,
    UnsupportedImage,
    process_image,
    read_limited,
    sniff_format,
)
from loumo.media.keys import is_valid_key
from tests import images


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")],
)
def test_accepts_jpeg_png_webp_and_makes_renditions(fmt: str, content_type: str) -> None:
    processed = process_image(images.image_bytes(fmt, (2000, 1000)))

    original = processed.original
    assert original.content_type == content_type
    assert (original.width, original.height) == (2000, 1000)
    assert _open(original.data).format == fmt
    sizes = {r.name: (r.width, r.height) for r in processed.renditions}
    assert sizes == {"160": (160, 80), "480": (480, 240), "1200": (1200, 600)}
    for rendition in processed.renditions:
        assert rendition.content_type == "image/webp"
        assert _open(rendition.data).format == "WEBP"
        assert _open(rendition.data).size == (rendition.width, rendition.height)
    assert all(is_valid_key(item.key) for item in processed.files)


def test_small_images_are_never_upscaled() -> None:
    processed = process_image(images.image_bytes("PNG", (300, 120)))
    sizes = {r.name: (r.width, r.height) for r in processed.renditions}
    assert sizes == {"160": (160, 64), "480": (300, 120), "1200": (300, 120)}


def test_gps_exif_is_removed() -> None:
    data = images.png_with_gps()
    assert ExifTags.IFD.GPSInfo in _open(data).getexif()  # the input really carries GPS

    processed = process_image(data)

    for item in processed.files:
        cleaned = _open(item.data)
        assert dict(cleaned.getexif()) == {}
        assert "exif" not in cleaned.info
        assert b"SpyCam" not in item.data


def test_exif_orientation_is_applied_then_dropped() -> None:
    # Orientation 6: the camera was turned; the stored pixels must be rotated upright.
    processed = process_image(images.jpeg_with_orientation(6, (400, 200)))

    assert (processed.original.width, processed.original.height) == (200, 400)
    cleaned = _open(processed.original.data)
    assert cleaned.size == (200, 400)
    assert ExifTags.Base.Orientation not in cleaned.getexif()


def test_icc_profile_and_text_chunks_are_removed() -> None:
    data = images.png_with_icc_and_text()
    assert {"icc_profile", "Comment"} <= set(_open(data).info)

    processed = process_image(data)

    info = _open(processed.original.data).info
    assert "icc_profile" not in info
    assert "Comment" not in info
    assert b"secret note" not in processed.original.data


def test_transparency_is_kept() -> None:
    data = images.image_bytes("PNG", (100, 100), mode="RGBA", color=(0, 0, 0, 0))
    processed = process_image(data)
    assert _open(processed.original.data).mode == "RGBA"
    assert _open(processed.renditions[0].data).getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_the_key_is_the_hash_of_the_cleaned_original() -> None:
    first = process_image(images.png_with_gps())
    again = process_image(images.png_with_gps())
    other = process_image(images.image_bytes("PNG", color=(1, 2, 3)))

    assert first.media_key == again.media_key
    assert first.media_key != other.media_key
    assert first.original.key == f"{first.media_key}/original.png"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(images.SVG, id="svg"),
        pytest.param(images.TEXT, id="text"),
        pytest.param(images.gif_bytes(), id="gif"),
        pytest.param(b"", id="empty"),
        pytest.param(images.image_bytes("BMP", (10, 10)), id="bmp"),
        pytest.param(images.image_bytes("PNG")[:200], id="truncated-png"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 100, id="jpeg-magic-only"),
        pytest.param(b"RIFF\x00\x00\x00\x00WEBPVP8 garbage", id="webp-magic-only"),
    ],
)
def test_rejects_anything_but_valid_jpeg_png_webp(data: bytes) -> None:
    with pytest.raises(UnsupportedImage) as caught:
        process_image(data)
    assert caught.value.status == 415


def test_sniffing_ignores_everything_but_the_content() -> None:
    assert sniff_format(images.image_bytes("PNG")) == "PNG"
    assert sniff_format(images.image_bytes("JPEG")) == "JPEG"
    assert sniff_format(images.image_bytes("WEBP")) == "WEBP"
    assert sniff_format(images.SVG) is None


@pytest.mark.parametrize(
    ("width", "height"),
    [
        pytest.param(20_000, 20_000, id="beyond-pillow-error-limit"),
        pytest.param(
            10_000,
            10_000,
            id="pillow-warning-as-error",
            marks=pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning"),
        ),
        pytest.param(8_000, 6_000, id="beyond-our-limit"),
    ],
)
def test_pixel_bombs_are_rejected_before_decoding(width: int, height: int) -> None:
    data = images.png_declaring(width, height)
    assert len(data) < 1000

    with pytest.raises(ImageTooLarge) as caught:
        process_image(data)
    assert caught.value.status == 413


def test_the_pixel_limit_is_configurable() -> None:
    data = images.image_bytes("PNG", (100, 100))
    with pytest.raises(ImageTooLarge):
        process_image(data, max_pixels=9_999)
    assert process_image(data, max_pixels=10_000).original.width == 100


async def test_reading_stops_as_soon_as_the_limit_is_passed() -> None:
    consumed = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(100):
            consumed += 1
            yield b"x" * 1000

    with pytest.raises(FileTooLarge) as caught:
        await read_limited(chunks(), 5_500)
    assert caught.value.status == 413
    assert consumed == 6


async def test_reading_a_file_like_object_within_the_limit() -> None:
    class Upload:
        def __init__(self, data: bytes) -> None:
            self.buffer = io.BytesIO(data)

        async def read(self, size: int = -1) -> bytes:
            return self.buffer.read(size)

    assert await read_limited(Upload(b"a" * 70_000), 70_000) == b"a" * 70_000
    with pytest.raises(FileTooLarge):
        await read_limited(Upload(b"a" * 70_001), 70_000)
    with pytest.raises(FileTooLarge):
        await read_limited(b"abc", 2)
