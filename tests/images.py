"""Sample files for upload tests: real images made with Pillow, and things that are not images.

These make bytes, not rows: row factories live in `tests/factories.py`.
"""

from __future__ import annotations

import io
import os
import struct
import zlib

from PIL import ExifTags, Image, ImageCms, ImageDraw, PngImagePlugin


def image_bytes(
    fmt: str = "PNG",
    size: tuple[int, int] = (640, 480),
    *,
    mode: str = "RGB",
    color: float | tuple[int, ...] = (200, 30, 40),
    **save: object,
) -> bytes:
    """An image with a shape on it, so that encoders and resizing have something to work on."""
    image = Image.new(mode, size, color)
    accent = 255 if mode in {"L", "P", "1"} else (20, 120, 240, 255)[: len(mode)]
    width, height = size
    ImageDraw.Draw(image).ellipse((width // 4, height // 4, width // 2, height // 2), fill=accent)
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def png_bytes(
    color: tuple[int, int, int] = (200, 30, 40), size: tuple[int, int] = (320, 240)
) -> bytes:
    """A real PNG; different colours give different media keys."""
    return image_bytes("PNG", size, color=color)


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (4.0, 3.0, 0.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (9.0, 42.0, 0.0),
    }
    return exif


def png_with_gps() -> bytes:
    return image_bytes("PNG", exif=gps_exif().tobytes())


def jpeg_with_orientation(orientation: int, size: tuple[int, int] = (400, 200)) -> bytes:
    exif = gps_exif()
    exif[ExifTags.Base.Orientation] = orientation
    return image_bytes("JPEG", size, exif=exif.tobytes())


def png_with_icc_and_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret note")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return image_bytes("PNG", pnginfo=info, icc_profile=icc)


def noise_png(target_bytes: int) -> bytes:
    """A PNG of random pixels (incompressible) of at least `target_bytes` bytes."""
    side = int((target_bytes / 3) ** 0.5) + 16
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    data = out.getvalue()
    assert len(data) >= target_bytes
    return data


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header declares `width` x `height` pixels (a bomb)."""
    data = bytearray(image_bytes("PNG", (8, 8), mode="L", color=0))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
)
TEXT = b"just some text, certainly not a picture\n" * 10


def gif_bytes() -> bytes:
    return image_bytes("GIF", (32, 32), mode="P", color=1)


def padded(data: bytes, total: int) -> bytes:
    """`data` followed by junk up to `total` bytes (decoders ignore what follows a PNG's end)."""
    return data + b"\x00" * (total - len(data))
