"""Categories (a tree), products, their ordered images and their variants."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from loumo.core.db import Base, TimestampMixin
from loumo.core.ids import new_id

UNITS = ("kg", "g", "l", "ml", "piece")


class Category(TimestampMixin, Base):
    """A node of the category tree.

    `path` is the materialised path of ids from the root (`/root/child/self/`), so that "this
    category and its descendants" is one indexed prefix match and moving a subtree is one UPDATE.
    """

    __tablename__ = "categories"
    __table_args__ = (
        UniqueConstraint("parent_id", "slug"),
        Index("ix_categories_path", "path"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    parent_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("categories.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    slug: Mapped[str] = mapped_column(String(120))
    path: Mapped[str] = mapped_column(String(1024))
    position: Mapped[int] = mapped_column(default=0)
    is_displayed: Mapped[bool] = mapped_column(default=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    image_key: Mapped[str | None] = mapped_column(String(128), default=None)


class Product(TimestampMixin, Base):
    """A sellable product; prices live on its variants.

    `search_text`, `name_key`, `name_en_key`, `min_price` and `image_keys` are derived columns
    maintained by the service: accent- and case-folded text for portable search and sorting, the
    lowest active variant price (NULL when no variant can be bought) for price sorting and keyset
    pagination, and the ordered image keys.
    """

    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_min_price_id", "min_price", "id"),
        Index("ix_products_name_key_id", "name_key", "id"),
        Index("ix_products_category_id_id", "category_id", "id"),
        # Trigram index for `LIKE '%term%'` search on PostgreSQL (a plain index on SQLite).
        Index(
            "ix_products_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    slug: Mapped[str] = mapped_column(String(160), unique=True)
    category_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("categories.id", ondelete="RESTRICT")
    )
    name_fr: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_fr: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    search_text: Mapped[str] = mapped_column(Text, default="")
    name_key: Mapped[str] = mapped_column(String(200), default="")
    name_en_key: Mapped[str] = mapped_column(String(200), default="")
    min_price: Mapped[int | None] = mapped_column(Integer, default=None)
    currency: Mapped[str] = mapped_column(String(3), default="XAF")
    # A copy of the ordered keys in product_images (the source of truth, which the media package
    # counts references in), so that listing a page of products needs no extra query.
    image_keys: Mapped[list[str]] = mapped_column(JSON, default=list)


class ProductImage(Base):
    """One image of a product, by media key, in display order."""

    __tablename__ = "product_images"
    __table_args__ = (UniqueConstraint("product_id", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    product_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("products.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column()
    media_key: Mapped[str] = mapped_column(String(128))


class Variant(TimestampMixin, Base):
    """A purchasable form of a product (size, pack) with its own SKU and price."""

    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_non_negative"),
        CheckConstraint("weight IS NULL OR weight > 0", name="weight_positive"),
        CheckConstraint(f"unit IN ({', '.join(repr(u) for u in UNITS)})", name="unit_known"),
        Index("ix_variants_product_id_position", "product_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    product_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("products.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(120))
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    price: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3), default="XAF")
    weight: Mapped[float | None] = mapped_column(Numeric(12, 3, asdecimal=False), default=None)
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    image_key: Mapped[str | None] = mapped_column(String(128), default=None)
