"""Shared by the catalog, shops and delivery tests: callers with chosen permissions, and data.

Callers are real users (`auth_headers` in tests/conftest.py), with the permissions they need.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw


async def make_zone(client: Any, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"name": f"Zone {time.monotonic_ns()}", "delivery_fee": 1000, **overrides}
    response = await client.post("/api/v1/zones", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_shop(
    client: Any, headers: dict[str, str], zone_id: str, **overrides: Any
) -> dict[str, Any]:
    body = {"name": f"Shop {time.monotonic_ns()}", "zone_id": zone_id, **overrides}
    response = await client.post("/api/v1/shops", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_category(
    client: Any, headers: dict[str, str], name: str, parent_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    body = {"name": name, "parent_id": parent_id, **overrides}
    response = await client.post("/api/v1/categories", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def make_product(
    client: Any,
    headers: dict[str, str],
    category_id: str,
    *,
    name_fr: str,
    name_en: str | None = None,
    prices: Sequence[int] = (1000,),
    **overrides: Any,
) -> dict[str, Any]:
    tag = time.monotonic_ns()
    body = {
        "reference": f"REF-{tag}",
        "name_fr": name_fr,
        "name_en": name_en or name_fr,
        "category_id": category_id,
        "slug": f"p-{tag}",
        "variants": [
            {"name": f"V{i}", "sku": f"SKU-{tag}-{i}", "price": p, "unit": "g", "weight": 250}
            for i, p in enumerate(prices)
        ],
        **overrides,
    }
    response = await client.post("/api/v1/products", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def png_bytes(
    color: tuple[int, int, int] = (200, 30, 40), size: tuple[int, int] = (320, 240)
) -> bytes:
    """A real PNG, made with Pillow; different colours give different media keys."""
    image = Image.new("RGB", size, color)
    ImageDraw.Draw(image).ellipse((10, 10, size[0] // 2, size[1] // 2), fill=(20, 120, 240))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def upload_image(
    client: Any, headers: dict[str, str], color: tuple[int, int, int] = (200, 30, 40)
) -> str:
    """Upload a PNG through `POST /media/images`; returns its media key."""
    response = await client.post(
        "/api/v1/media/images",
        files={"file": ("photo.png", png_bytes(color), "image/png")},
        data={"purpose": "product"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key
