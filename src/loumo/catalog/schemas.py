"""Request and response bodies of the catalog API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from loumo.core.pagination import CursorParam, LimitParam
from loumo.core.schemas import Currency, Id, Input, Name, PatchInput, Read, Slug, clean_text
from loumo.media.schemas import ImageRead, MediaKey

ProductName = Annotated[str, StringConstraints(max_length=200), AfterValidator(clean_text)]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")]
Reference = Sku
MAX_IMAGES = 20
Unit = Literal["kg", "g", "l", "ml", "piece"]
MAX_PRICE = 1_000_000_000  # minor units; fits the 32-bit price column
ProductSort = Literal["relevance", "price", "-price", "newest", "name"]


class CategoryCreate(Input):
    name: Name
    name_en: Annotated[str, StringConstraints(max_length=120)] = ""
    slug: Slug | None = Field(default=None, description="Derived from `name` when omitted")
    parent_id: Id | None = None
    position: int = Field(default=0, ge=0, le=1_000_000)
    is_displayed: bool = True
    is_active: bool = True
    image_key: MediaKey | None = None


class CategoryUpdate(PatchInput):
    """Fields to change; `parent_id: null` moves the category to the root."""

    patch_of = CategoryCreate
    nullable = frozenset({"parent_id", "image_key"})


class CategoryRead(Read):
    id: str
    parent_id: str | None
    name: str
    name_en: str
    slug: str
    position: int
    is_displayed: bool
    is_active: bool
    image_key: str | None
    image: ImageRead | None = None
    created_at: datetime
    updated_at: datetime


class CategoryNode(CategoryRead):
    children: list[CategoryNode] = []


class CategoryTree(BaseModel):
    """The whole category tree, roots first, siblings by position then name."""

    items: list[CategoryNode]


class VariantCreate(Input):
    name: Name
    sku: Sku
    price: int = Field(ge=0, le=MAX_PRICE, description="Integer minor units of `currency`")
    currency: Currency | None = Field(default=None, description="Defaults to the product's")
    weight: float | None = Field(default=None, gt=0, le=1_000_000)
    unit: Unit = "piece"
    position: int = Field(default=0, ge=0, le=1_000_000)
    is_active: bool = True
    image_key: MediaKey | None = None


class VariantUpdate(PatchInput):
    """Fields to change; `weight: null` and `image_key: null` clear them."""

    patch_of = VariantCreate
    fixed = frozenset({"currency"})
    nullable = frozenset({"weight", "image_key"})


class AvailabilityRead(BaseModel):
    shop_id: str
    available: int = Field(description="Units that can be ordered now: quantity - reserved")


class VariantRead(Read):
    id: str
    product_id: str
    name: str
    sku: str
    price: int
    currency: str
    weight: float | None
    unit: str
    position: int
    is_active: bool
    image_key: str | None
    image: ImageRead | None = None
    availability: list[AvailabilityRead] = Field(
        default=[], description="Per active shop that stocks the variant"
    )


class ProductCreate(Input):
    """A product, optionally with its variants inline.

    Names and descriptions are bilingual: `*_fr` (the default language) and `*_en`.
    """

    reference: Reference
    name_fr: ProductName
    name_en: ProductName
    description_fr: Annotated[str, StringConstraints(max_length=10_000)] = ""
    description_en: Annotated[str, StringConstraints(max_length=10_000)] = ""
    slug: Slug | None = Field(default=None, description="Derived from `name_fr` when omitted")
    category_id: Id
    currency: Currency = "XAF"
    is_active: bool = True
    images: list[MediaKey] = Field(
        default=[], max_length=MAX_IMAGES, description="Media keys, in order"
    )
    variants: list[VariantCreate] = Field(default=[], max_length=50)


class ProductUpdate(PatchInput):
    patch_of = ProductCreate
    fixed = frozenset({"currency", "variants"})

    images: list[MediaKey] | None = Field(
        default=None, max_length=MAX_IMAGES, description="Replaces the ordered list of media keys"
    )


class ProductImagesWrite(Input):
    """The product's images in their new order; keys left out are removed, new ones added."""

    images: list[MediaKey] = Field(max_length=MAX_IMAGES)


class ProductRead(BaseModel):
    id: str
    reference: str
    slug: str
    name_fr: str
    name_en: str
    description_fr: str
    description_en: str
    category_id: str
    is_active: bool
    price: int | None = Field(description="Lowest active variant price (minor units)")
    currency: str
    in_stock: bool = Field(description="Some variant is available in some active shop")
    images: list[ImageRead]
    variants: list[VariantRead]
    created_at: datetime
    updated_at: datetime


class ProductListed(ProductRead):
    """A product as `GET /products` lists it: only products with an active variant are listed,
    so a listed product always has a price."""

    price: int = Field(description="Lowest active variant price (minor units)")


class ProductQuery(BaseModel):
    """Search, filters and sort of `GET /products` (its query parameters)."""

    q: str | None = Field(default=None, max_length=100, description="Search text")
    category_id: str | None = Field(default=None, max_length=32)
    shop_id: str | None = Field(default=None, max_length=32, description="Stocked by shop")
    min_price: int | None = Field(default=None, ge=0, le=MAX_PRICE, description="Minor units")
    max_price: int | None = Field(default=None, ge=0, le=MAX_PRICE, description="Minor units")
    in_stock: bool = Field(default=False, description="Only products available now")
    sort: ProductSort = "relevance"
    cursor: CursorParam = None
    limit: LimitParam = 20
