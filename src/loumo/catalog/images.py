"""Images in the catalog: the image field of reads, and a product's ordered list of images.

Images are media keys (uploaded through `loumo.media`); every change moves the media reference
counts, reading the current keys under a row lock (`loumo.core.db.locked_value`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.errors import DuplicateImage, TooManyImages
from loumo.catalog.listing import get_product
from loumo.catalog.models import Product, ProductImage
from loumo.catalog.rows import get_product_row
from loumo.catalog.schemas import MAX_IMAGES
from loumo.core.db import flush_or_conflict, locked_value, save_changes
from loumo.core.errors import Conflict, NotFound
from loumo.core.reads import SessionReads
from loumo.media import service as media
from loumo.media.schemas import ImageRead
from loumo.media.storage import Storage

R = TypeVar("R", bound=BaseModel)


def image_model(storage: Storage, key: str | None) -> ImageRead | None:
    """The image field of a read (`ImageRead`), or None; computed from the key, no query."""
    return ImageRead(**media.image_read(storage, key)) if key else None


def read_with_image(model: type[R], row: Any, storage: Storage) -> R:
    """`model` (a read with an `image` field) read from `row`, the image shown from the row's
    `image_key`."""
    return model.model_validate(row).model_copy(
        update={"image": image_model(storage, row.image_key)}
    )


async def change_image_key(
    session: AsyncSession, owner: Any, key: str | None, *, field: str = "image_key"
) -> None:
    """Point `owner.image_key` at `key` (None: no image), moving the media reference from the
    key it holds now (read under a row lock)."""
    current = await locked_value(session, owner, "image_key")
    await media.update_references(session, [current], [key], field=field)
    owner.image_key = key


async def add_with_image(session: AsyncSession, row: Any, conflict: str) -> None:
    """Insert `row` (one with an `image_key`), taking a media reference on its image, and
    flush (a unique-constraint race is a 409 `conflict`)."""
    await media.update_references(session, [], [row.image_key], field="image_key")
    session.add(row)
    await flush_or_conflict(session, conflict)


async def save_with_image(
    session: AsyncSession, row: Any, changes: Mapping[str, Any], conflict: str
) -> None:
    """`save_changes` for a row with an `image_key`: a new key moves the media reference."""
    if "image_key" in changes:
        await change_image_key(session, row, changes["image_key"])
    await save_changes(session, row, changes, conflict)


def check_images(keys: Sequence[str], field: str) -> None:
    if len(set(keys)) != len(keys):
        raise DuplicateImage("The same image is given twice", field=field)


async def replace_images(
    session: AsyncSession, product: Product, keys: Sequence[str], *, field: str
) -> None:
    """Make `keys` the product's images, in order, keeping the media reference counts right."""
    check_images(keys, field)
    current = await locked_value(session, product, "image_keys")
    await media.update_references(session, current or [], keys, field=field)
    await session.execute(delete(ProductImage).where(ProductImage.product_id == product.id))
    session.add_all(
        ProductImage(product_id=product.id, position=i, media_key=key) for i, key in enumerate(keys)
    )
    product.image_keys = list(keys)
    await flush_or_conflict(session, "The product's images changed meanwhile; try again")


async def check_image_slot(session: AsyncSession, product_id: str) -> None:
    """404 for an unknown product, 409 when it has all the images it may have."""
    product = await get_product_row(session, product_id, include_inactive=True)
    if len(product.image_keys or []) >= MAX_IMAGES:
        raise TooManyImages(f"A product has at most {MAX_IMAGES} images", field="key")


async def add_product_image(
    session: AsyncSession, product_id: str, key: str, *, storage: Storage
) -> dict[str, Any]:
    """Append an image (by media key) to a product's images; the product as `ProductRead`."""
    product = await get_product_row(session, product_id, include_inactive=True)
    keys = list(await locked_value(session, product, "image_keys") or [])
    if key in keys:
        raise Conflict("The product already has this image", field="key")
    if len(keys) >= MAX_IMAGES:
        raise TooManyImages(f"A product has at most {MAX_IMAGES} images", field="key")
    await replace_images(session, product, [*keys, key], field="key")
    return await get_product(
        SessionReads(session), product.id, include_inactive=True, storage=storage
    )


async def remove_product_image(session: AsyncSession, product_id: str, key: str) -> None:
    product = await get_product_row(session, product_id, include_inactive=True)
    keys = list(await locked_value(session, product, "image_keys") or [])
    if key not in keys:
        raise NotFound(f"Product {product_id} has no image {key}")
    await replace_images(session, product, [k for k in keys if k != key], field="key")


async def set_product_images(
    session: AsyncSession, product_id: str, keys: Sequence[str], *, storage: Storage
) -> dict[str, Any]:
    """Reorder, add and remove a product's images in one go; the product as `ProductRead`."""
    product = await get_product_row(session, product_id, include_inactive=True)
    await replace_images(session, product, keys, field="images")
    return await get_product(
        SessionReads(session), product.id, include_inactive=True, storage=storage
    )
