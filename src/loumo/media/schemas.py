"""Media I/O schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from loumo.core.rows import from_row
from loumo.core.schemas import Input
from loumo.media.models import MediaFile
from loumo.media.storage import Storage

MediaKey = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(description="The key of an uploaded image (`POST /api/v1/media/images`)"),
]
Purpose = Literal["product", "variant", "category", "shop", "user", "delivery_proof"]


class UploadForm(BaseModel):
    """The non-file fields of an image upload."""

    model_config = ConfigDict(extra="ignore")

    purpose: Purpose


class RenditionRead(BaseModel):
    name: str
    key: str
    url: str
    content_type: str
    width: int
    height: int
    bytes: int


class MediaRead(BaseModel):
    """A stored image: its key (to attach to a product, shop...), the original and renditions."""

    key: str
    content_type: str
    width: int
    height: int
    bytes: int
    url: str
    renditions: list[RenditionRead]

    @classmethod
    def build(cls, media: MediaFile, storage: Storage) -> MediaRead:
        renditions = [
            RenditionRead(name=name, url=storage.url(entry["key"]), **entry)
            for name, entry in media.renditions.items()
        ]
        original = next(r for r in renditions if r.name == "original")
        return from_row(cls, media, url=original.url, renditions=renditions)


class ImageRead(BaseModel):
    """An image as catalog and shop reads show it."""

    key: str
    url: str = Field(description="The largest rendition (WebP, at most 1200 px)")
    thumbnails: dict[str, str] = Field(
        description='WebP renditions by maximum side in pixels: {"160": url, "480": url, ...}'
    )


class ImageRef(Input):
    """Use an image uploaded before, by its key."""

    key: MediaKey
