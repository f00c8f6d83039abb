"""Media I/O schemas."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from loumo.media.models import MediaFile
from loumo.media.storage import Storage

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
        return cls(
            key=media.key,
            content_type=media.content_type,
            width=media.width,
            height=media.height,
            bytes=media.bytes,
            url=original.url,
            renditions=renditions,
        )
