"""Catalog rules: the category tree, products and variants, and the product listing.

The listing shows stock availability, which belongs to `shops` (a package above this one): shops
registers an `AvailabilitySource` at import, so catalog never imports shops.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from loumo.catalog.models import Category, Product, ProductImage, Variant
from loumo.catalog.schemas import (
    MAX_IMAGES,
    MAX_PRICE,
    AvailabilityRead,
    CategoryCreate,
    CategoryNode,
    CategoryRead,
    CategoryUpdate,
    ProductCreate,
    ProductQuery,
    ProductUpdate,
    VariantCreate,
    VariantRead,
    VariantUpdate,
)
from loumo.catalog.text import fold, like_escape, slugify
from loumo.core.errors import BadRequest, Conflict, NotFound
from loumo.core.ids import new_id
from loumo.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from loumo.core.permissions import register_permission
from loumo.media import service as media
from loumo.media.schemas import ImageRead
from loumo.media.storage import Storage

register_permission("categories:write", "Create, change and retire categories")
register_permission("products:write", "Create, change and retire products and variants")

MAX_SEARCH_TERMS = 8
MAX_PATH = 1024  # length of categories.path: about 30 levels


class CategoryCycle(Conflict):
    code, title = "category_cycle", "Category cycle"


class TooDeep(BadRequest):
    code, title = "category_too_deep", "Category tree too deep"


class UnknownCategory(BadRequest):
    code, title = "unknown_category", "Unknown category"


class CurrencyMismatch(BadRequest):
    code, title = "currency_mismatch", "Currency mismatch"


class InvalidPriceRange(BadRequest):
    code, title = "invalid_price_range", "Invalid price range"


class DuplicateImage(BadRequest):
    code, title = "duplicate_image", "Duplicate image"


class TooManyImages(Conflict):
    code, title = "too_many_images", "Too many images"


# --- availability, provided by `shops` -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Availability:
    shop_id: str
    available: int


class AvailabilitySource(Protocol):
    def product_filter(
        self, product_id: Any, *, shop_id: str | None, in_stock: bool
    ) -> ColumnElement[bool]:
        """A correlated condition: the product is stocked (in `shop_id`, with units if asked)."""
        ...

    def availability_column(self, variant_id: Any) -> ColumnElement[str | None]:
        """A correlated column: the variant's stock in active shops as 'shop:available,...'
        (NULL when stocked nowhere). One short string per variant keeps the page query small."""
        ...

    async def for_variants(
        self, session: AsyncSession, variant_ids: Sequence[str]
    ) -> dict[str, list[Availability]]:
        """Availability per active shop of each variant, in one query."""
        ...


_availability_source: AvailabilitySource | None = None


def register_availability_source(source: AvailabilitySource) -> None:
    global _availability_source
    _availability_source = source


def image_read(storage: Storage, key: str | None) -> dict[str, Any] | None:
    """An image field of a read (`ImageRead`), or None; computed from the key, no query."""
    return media.image_read(storage, key) if key else None


def image_model(storage: Storage, key: str | None) -> ImageRead | None:
    return ImageRead(**media.image_read(storage, key)) if key else None


async def locked_value(session: AsyncSession, owner: Any, name: str) -> Any:
    """Lock `owner`'s row (a row lock on PostgreSQL, the write lock on SQLite) and read its
    image attribute `name` as it is now, so that concurrent image changes count references
    from what is really there, never from a stale copy. The object learns that value too."""
    model = type(owner)
    column = getattr(model, name)
    result = await session.execute(
        update(model)
        .where(model.id == owner.id)
        .values({column: column})
        .returning(column)
        .execution_options(synchronize_session=False)
    )
    value = result.scalar_one()
    set_committed_value(owner, name, value)
    return value


# --- categories ------------------------------------------------------------------------------


def category_read(category: Category, storage: Storage) -> CategoryRead:
    read = CategoryRead.model_validate(category)
    read.image = image_model(storage, category.image_key)
    return read


async def category_tree(
    session: AsyncSession, *, include_inactive: bool, storage: Storage
) -> list[CategoryNode]:
    """The whole tree from one query; an inactive category hides its subtree from the public."""
    stmt = select(Category).order_by(Category.position, Category.name, Category.id)
    if not include_inactive:
        stmt = stmt.where(Category.is_active)
    rows = (await session.scalars(stmt)).all()
    nodes = {c.id: CategoryNode.model_validate(c) for c in rows}
    for c in rows:
        nodes[c.id].image = image_model(storage, c.image_key)
    roots: list[CategoryNode] = []
    for c in rows:
        node = nodes[c.id]
        if c.parent_id is None:
            roots.append(node)
        elif c.parent_id in nodes:
            nodes[c.parent_id].children.append(node)
    return roots


async def get_category(
    session: AsyncSession, category_id: str, *, include_inactive: bool
) -> Category:
    category = await session.get(Category, category_id)
    if category is None or not (include_inactive or category.is_active):
        raise NotFound(f"No category {category_id}")
    return category


async def _check_sibling_slug(
    session: AsyncSession, parent_id: str | None, slug: str, exclude_id: str | None
) -> None:
    stmt = select(Category.id).where(
        Category.slug == slug,
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id,
    )
    if exclude_id:
        stmt = stmt.where(Category.id != exclude_id)
    if await session.scalar(stmt.limit(1)):
        raise Conflict(f"A sibling category already has the slug '{slug}'", field="slug")


async def create_category(session: AsyncSession, data: CategoryCreate) -> Category:
    parent = None
    if data.parent_id is not None:
        parent = await session.get(Category, data.parent_id)
        if parent is None:
            raise UnknownCategory(f"No parent category {data.parent_id}", field="parent_id")
    slug = data.slug or slugify(data.name)
    if not slug:
        raise BadRequest("The name gives an empty slug; pass `slug`", field="slug")
    await _check_sibling_slug(session, data.parent_id, slug, None)
    category = Category(**data.model_dump(exclude={"slug"}), slug=slug)
    category.id = new_id()
    category.path = (parent.path if parent else "/") + category.id + "/"
    if len(category.path) > MAX_PATH:
        raise TooDeep("The category tree cannot be that deep", field="parent_id")
    await media.update_references(session, [], [category.image_key], field="image_key")
    session.add(category)
    await _flush(session, "The category conflicts with an existing one")
    return category


async def update_category(
    session: AsyncSession, category_id: str, data: CategoryUpdate
) -> Category:
    category = await get_category(session, category_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True)
    moving = "parent_id" in changes and changes["parent_id"] != category.parent_id
    parent_id = changes.get("parent_id", category.parent_id)
    if moving or "slug" in changes:
        await _check_sibling_slug(
            session, parent_id, changes.get("slug", category.slug), category.id
        )
    if moving:
        new_prefix = "/"
        if parent_id is not None:
            parent = await session.get(Category, parent_id)
            if parent is None:
                raise UnknownCategory(f"No parent category {parent_id}", field="parent_id")
            if parent.path.startswith(category.path):
                raise CategoryCycle(
                    "A category cannot move under itself or one of its descendants",
                    field="parent_id",
                )
            new_prefix = parent.path
        old_path, new_path = category.path, new_prefix + category.id + "/"
        deepest = await session.scalar(
            select(func.max(func.length(Category.path))).where(Category.path.like(old_path + "%"))
        )
        if (deepest or 0) - len(old_path) + len(new_path) > MAX_PATH:
            raise TooDeep("The category tree cannot be that deep", field="parent_id")
        # One UPDATE re-roots the whole subtree's materialised paths.
        await session.execute(
            update(Category)
            .where(Category.path.like(old_path + "%"))
            .values(path=literal(new_path) + func.substr(Category.path, len(old_path) + 1))
            .execution_options(synchronize_session=False)
        )
        await session.refresh(category)
    if "image_key" in changes:
        current = await locked_value(session, category, "image_key")
        await media.update_references(session, [current], [changes["image_key"]], field="image_key")
    for key, value in changes.items():
        setattr(category, key, value)
    await _flush(session, "The category conflicts with an existing one")
    await session.refresh(category)
    return category


async def delete_category(session: AsyncSession, category_id: str) -> None:
    category = await get_category(session, category_id, include_inactive=True)
    has_child = await session.scalar(select(Category.id).where(Category.parent_id == category.id))
    has_product = await session.scalar(
        select(Product.id).where(Product.category_id == category.id).limit(1)
    )
    if has_child or has_product:
        raise Conflict(
            "The category still has subcategories or products; move them or deactivate it"
        )
    await media.update_references(session, [category.image_key], [], field="image_key")
    await session.delete(category)
    await session.flush()


# --- products --------------------------------------------------------------------------------


async def _flush(session: AsyncSession, message: str) -> None:
    """Flush; a unique-constraint race that the checks could not see becomes a 409."""
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(message) from None


async def _taken(session: AsyncSession, column: Any, value: str, exclude_id: str | None) -> bool:
    stmt = select(column).where(column == value)
    if exclude_id is not None:
        owner = Product.id if column.class_ is Product else Variant.id
        stmt = stmt.where(owner != exclude_id)
    return (await session.scalar(stmt.limit(1))) is not None


async def _check_category(session: AsyncSession, category_id: str) -> None:
    if await session.get(Category, category_id) is None:
        raise UnknownCategory(f"No category {category_id}", field="category_id")


async def _check_skus(session: AsyncSession, skus: list[str], exclude_id: str | None) -> None:
    if len(set(skus)) != len(skus):
        raise Conflict("The same SKU is given twice", field="sku")
    stmt = select(Variant.sku).where(Variant.sku.in_(skus))
    if exclude_id is not None:
        stmt = stmt.where(Variant.id != exclude_id)
    taken = (await session.scalars(stmt)).all()
    if taken:
        raise Conflict(f"SKU already used: {', '.join(sorted(taken))}", field="sku")


def _variant(product: Product, data: VariantCreate) -> Variant:
    currency = data.currency or product.currency
    if currency != product.currency:
        raise CurrencyMismatch(
            f"Variants of this product are priced in {product.currency}", field="currency"
        )
    return Variant(
        product_id=product.id, **data.model_dump(exclude={"currency"}), currency=currency
    )


@dataclass(frozen=True, slots=True)
class VariantFacts:
    sku: str
    name: str
    price: int
    is_active: bool


def derived_columns(
    *,
    reference: str,
    name_fr: str,
    name_en: str,
    description_fr: str,
    description_en: str,
    variants: Sequence[VariantFacts],
) -> dict[str, Any]:
    """The service-maintained columns of a product (also used by the bulk seed)."""
    words = [reference, name_fr, name_en, description_fr, description_en]
    words += [f"{v.sku} {v.name}" for v in variants]
    prices = [v.price for v in variants if v.is_active]
    return {
        "search_text": fold(" ".join(words)),
        "name_key": fold(name_fr)[:200],
        "name_en_key": fold(name_en)[:200],
        "min_price": min(prices) if prices else None,
    }


async def refresh_derived(session: AsyncSession, product: Product) -> None:
    """Recompute the folded search text and the lowest active price of a product."""
    rows = await session.execute(
        select(Variant.sku, Variant.name, Variant.price, Variant.is_active).where(
            Variant.product_id == product.id
        )
    )
    values = derived_columns(
        reference=product.reference,
        name_fr=product.name_fr,
        name_en=product.name_en,
        description_fr=product.description_fr,
        description_en=product.description_en,
        variants=[VariantFacts(*row) for row in rows],
    )
    for key, value in values.items():
        setattr(product, key, value)


async def create_product(session: AsyncSession, data: ProductCreate) -> Product:
    await _check_category(session, data.category_id)
    if await _taken(session, Product.reference, data.reference, None):
        raise Conflict(f"Reference '{data.reference}' is already used", field="reference")
    slug = data.slug or slugify(data.name_fr, 140)
    if not slug:
        raise BadRequest("The name gives an empty slug; pass `slug`", field="slug")
    if await _taken(session, Product.slug, slug, None):
        if data.slug:
            raise Conflict(f"Slug '{slug}' is already used", field="slug")
        slug = f"{slug}-{slugify(data.reference, 19)}"
        if await _taken(session, Product.slug, slug, None):
            raise Conflict(f"Slug '{slug}' is already used", field="slug")
    if data.variants:
        await _check_skus(session, [v.sku for v in data.variants], None)
    _check_images(data.images, "images")
    product = Product(
        **data.model_dump(exclude={"slug", "images", "variants"}),
        slug=slug,
    )
    session.add(product)
    await _flush(session, "The product conflicts with an existing one")
    variants = [_variant(product, v) for v in data.variants]
    await media.update_references(
        session, [], [v.image_key for v in variants], field="variants.image_key"
    )
    await media.update_references(session, [], data.images, field="images")
    if all(v.position == 0 for v in variants):
        # Inline variants without explicit positions keep the order they were given in.
        for index, variant in enumerate(variants):
            variant.position = index
    session.add_all(variants)
    session.add_all(
        ProductImage(product_id=product.id, position=i, media_key=key)
        for i, key in enumerate(data.images)
    )
    product.image_keys = list(data.images)
    await _flush(session, "The product conflicts with an existing one")
    await refresh_derived(session, product)
    await session.flush()
    return product


async def _get_product_row(
    session: AsyncSession, id_or_slug: str, *, include_inactive: bool
) -> Product:
    product = await session.scalar(
        select(Product).where(or_(Product.id == id_or_slug, Product.slug == id_or_slug))
    )
    if product is None or not (include_inactive or product.is_active):
        raise NotFound(f"No product {id_or_slug}")
    return product


async def update_product(session: AsyncSession, product_id: str, data: ProductUpdate) -> Product:
    product = await _get_product_row(session, product_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True)
    if "category_id" in changes:
        await _check_category(session, changes["category_id"])
    if "reference" in changes and await _taken(
        session, Product.reference, changes["reference"], product.id
    ):
        raise Conflict(f"Reference '{changes['reference']}' is already used", field="reference")
    if "slug" in changes and await _taken(session, Product.slug, changes["slug"], product.id):
        raise Conflict(f"Slug '{changes['slug']}' is already used", field="slug")
    images = changes.pop("images", None)
    for key, value in changes.items():
        setattr(product, key, value)
    if images is not None:
        await _replace_images(session, product, images, field="images")
    await refresh_derived(session, product)
    await _flush(session, "The product conflicts with an existing one")
    await session.refresh(product)
    return product


def _check_images(keys: Sequence[str], field: str) -> None:
    if len(set(keys)) != len(keys):
        raise DuplicateImage("The same image is given twice", field=field)


async def _replace_images(
    session: AsyncSession, product: Product, keys: Sequence[str], *, field: str
) -> None:
    """Make `keys` the product's images, in order, keeping the media reference counts right."""
    _check_images(keys, field)
    current = await locked_value(session, product, "image_keys")
    await media.update_references(session, current or [], keys, field=field)
    await session.execute(delete(ProductImage).where(ProductImage.product_id == product.id))
    session.add_all(
        ProductImage(product_id=product.id, position=i, media_key=key) for i, key in enumerate(keys)
    )
    product.image_keys = list(keys)
    await _flush(session, "The product's images changed meanwhile; try again")


async def check_image_slot(session: AsyncSession, product_id: str) -> None:
    """404 for an unknown product, 409 when it has all the images it may have."""
    product = await _get_product_row(session, product_id, include_inactive=True)
    if len(product.image_keys or []) >= MAX_IMAGES:
        raise TooManyImages(f"A product has at most {MAX_IMAGES} images", field="key")


async def add_product_image(session: AsyncSession, product_id: str, key: str) -> Product:
    """Append an image (by media key) to a product's images."""
    product = await _get_product_row(session, product_id, include_inactive=True)
    keys = list(await locked_value(session, product, "image_keys") or [])
    if key in keys:
        raise Conflict("The product already has this image", field="key")
    if len(keys) >= MAX_IMAGES:
        raise TooManyImages(f"A product has at most {MAX_IMAGES} images", field="key")
    await _replace_images(session, product, [*keys, key], field="key")
    return product


async def remove_product_image(session: AsyncSession, product_id: str, key: str) -> None:
    product = await _get_product_row(session, product_id, include_inactive=True)
    keys = list(await locked_value(session, product, "image_keys") or [])
    if key not in keys:
        raise NotFound(f"Product {product_id} has no image {key}")
    await _replace_images(session, product, [k for k in keys if k != key], field="key")


async def set_product_images(
    session: AsyncSession, product_id: str, keys: Sequence[str]
) -> Product:
    """Reorder, add and remove a product's images in one go."""
    product = await _get_product_row(session, product_id, include_inactive=True)
    await _replace_images(session, product, keys, field="images")
    return product


async def deactivate_product(session: AsyncSession, product_id: str) -> None:
    """Products are never deleted (orders keep pointing at them); they stop being listed."""
    product = await _get_product_row(session, product_id, include_inactive=True)
    product.is_active = False
    await session.flush()


async def get_product(
    session: AsyncSession, id_or_slug: str, *, include_inactive: bool, storage: Storage
) -> dict[str, Any]:
    """One product as a JSON-ready dict shaped like `ProductRead`."""
    row: Row[Any] | None = (await _rows(session, _product_statement(), {"key": id_or_slug})).first()
    if row is None or not (include_inactive or row.is_active):
        raise NotFound(f"No product {id_or_slug}")
    return (await _assemble(session, [row], include_inactive=include_inactive, storage=storage))[0]


# --- variants --------------------------------------------------------------------------------


async def get_variant_row(
    session: AsyncSession, variant_id: str, *, include_inactive: bool
) -> Variant:
    row = (
        await session.execute(
            select(Variant, Product.is_active)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id == variant_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No variant {variant_id}")
    variant, product_active = row
    if not include_inactive and not (variant.is_active and product_active):
        raise NotFound(f"No variant {variant_id}")
    return variant


async def get_variant(
    session: AsyncSession, variant_id: str, *, include_inactive: bool, storage: Storage
) -> VariantRead:
    variant = await get_variant_row(session, variant_id, include_inactive=include_inactive)
    availability = await _availability(session, [variant.id])
    return _variant_read(variant, availability, storage)


async def list_variants(
    session: AsyncSession, product_id: str, *, include_inactive: bool, storage: Storage
) -> list[VariantRead]:
    product = await _get_product_row(session, product_id, include_inactive=include_inactive)
    stmt = select(Variant).where(Variant.product_id == product.id)
    if not include_inactive:
        stmt = stmt.where(Variant.is_active)
    variants = (await session.scalars(stmt.order_by(Variant.position, Variant.id))).all()
    availability = await _availability(session, [v.id for v in variants])
    return [_variant_read(v, availability, storage) for v in variants]


async def create_variant(session: AsyncSession, product_id: str, data: VariantCreate) -> Variant:
    product = await _get_product_row(session, product_id, include_inactive=True)
    await _check_skus(session, [data.sku], None)
    variant = _variant(product, data)
    await media.update_references(session, [], [variant.image_key], field="image_key")
    session.add(variant)
    await _flush(session, "The variant conflicts with an existing one")
    await refresh_derived(session, product)
    await session.flush()
    return variant


async def update_variant(session: AsyncSession, variant_id: str, data: VariantUpdate) -> Variant:
    variant = await get_variant_row(session, variant_id, include_inactive=True)
    changes = data.model_dump(exclude_unset=True)
    if "sku" in changes:
        await _check_skus(session, [changes["sku"]], variant.id)
    if "image_key" in changes:
        current = await locked_value(session, variant, "image_key")
        await media.update_references(session, [current], [changes["image_key"]], field="image_key")
    for key, value in changes.items():
        setattr(variant, key, value)
    await _flush(session, "The variant conflicts with an existing one")
    product = await session.get(Product, variant.product_id)
    assert product is not None
    await refresh_derived(session, product)
    await session.flush()
    await session.refresh(variant)
    return variant


async def deactivate_variant(session: AsyncSession, variant_id: str) -> None:
    """Variants are never deleted (stock ledgers and orders point at them)."""
    variant = await get_variant_row(session, variant_id, include_inactive=True)
    variant.is_active = False
    await session.flush()
    product = await session.get(Product, variant.product_id)
    assert product is not None
    await refresh_derived(session, product)
    await session.flush()


# --- listing ---------------------------------------------------------------------------------


def _variant_read(
    variant: Variant, availability: dict[str, list[Availability]], storage: Storage
) -> VariantRead:
    read = VariantRead.model_validate(variant)
    read.image = image_model(storage, variant.image_key)
    read.availability = [
        AvailabilityRead(shop_id=a.shop_id, available=a.available)
        for a in availability.get(variant.id, [])
    ]
    return read


async def _availability(
    session: AsyncSession, variant_ids: Sequence[str]
) -> dict[str, list[Availability]]:
    if _availability_source is None or not variant_ids:
        return {}
    return await _availability_source.for_variants(session, variant_ids)


PRODUCT_COLUMNS: tuple[Any, ...] = (
    Product.id,
    Product.reference,
    Product.slug,
    Product.name_fr,
    Product.name_en,
    Product.description_fr,
    Product.description_en,
    Product.category_id,
    Product.is_active,
    Product.min_price,
    Product.currency,
    Product.created_at,
    Product.updated_at,
    Product.name_key,
    Product.image_keys,
)
VARIANT_COLUMNS: tuple[Any, ...] = (
    Variant.id,
    Variant.product_id,
    Variant.name,
    Variant.sku,
    Variant.price,
    Variant.currency,
    Variant.weight,
    Variant.unit,
    Variant.position,
    Variant.is_active,
    Variant.image_key,
)
VARIANT_KEYS = tuple(c.key for c in VARIANT_COLUMNS)
VARIANT_WIDTH = len(VARIANT_COLUMNS)


# Statements of the hot read paths are built once per shape, with bound parameters: building a
# statement and computing its cache key cost more than running it (both are memoised on the
# statement object, so a reused one skips them).
_statements: dict[tuple[Any, ...], Select[Any]] = {}


async def _rows(session: AsyncSession, stmt: Select[Any], params: dict[str, Any]) -> Any:
    """Runs a Core-shaped read on the session's connection (same transaction), skipping the
    ORM's per-row loading machinery: these reads build dicts, never entities."""
    connection = await session.connection()
    return await connection.execute(stmt, params)


def _product_statement() -> Select[Any]:
    stmt = _statements.get(("product",))
    if stmt is None:
        key = bindparam("key", type_=String)
        stmt = select(*PRODUCT_COLUMNS).where(or_(Product.id == key, Product.slug == key))
        _statements["product",] = stmt
    return stmt


def _variants_statement(include_inactive: bool, dialect: str) -> Select[Any]:
    shape = ("variants", include_inactive, dialect, id(_availability_source))
    stmt = _statements.get(shape)
    if stmt is None:
        # PostgreSQL takes the ids as one array: the SQL text stays the same whatever the page
        # size (no IN list to render per call, one prepared statement).
        matches = (
            Variant.product_id == any_(bindparam("ids", type_=ARRAY(String)))
            if dialect == "postgresql"
            else Variant.product_id.in_(bindparam("ids", expanding=True))
        )
        stmt = select(*VARIANT_COLUMNS).where(matches)
        if not include_inactive:
            stmt = stmt.where(Variant.is_active)
        stmt = stmt.order_by(Variant.position, Variant.id)
        if _availability_source is not None:
            stmt = stmt.add_columns(_availability_source.availability_column(Variant.id))
        _statements[shape] = stmt
    return stmt


async def _assemble(
    session: AsyncSession, products: Sequence[Row[Any]], *, include_inactive: bool, storage: Storage
) -> list[dict[str, Any]]:
    """Variants and their availability for a page of products, in one query whatever its size.

    The hot read path builds JSON-ready dicts from Core rows (shaped like `ProductRead`, which
    documents them and which a test checks them against) instead of ORM objects and models:
    several times cheaper per page. Each database round trip costs more than the Python here.
    """
    ids = [p.id for p in products]
    if not ids:
        return []
    stmt = _variants_statement(include_inactive, session.get_bind().dialect.name)
    variants_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    in_stock: set[str] = set()
    # Unpacked by position, several times cheaper than by name for the rows of a page.
    for row in await _rows(session, stmt, {"ids": ids}):
        variant = dict(zip(VARIANT_KEYS, row[:VARIANT_WIDTH], strict=True))
        shops: list[dict[str, Any]] = []
        stocked = row[VARIANT_WIDTH] if len(row) > VARIANT_WIDTH else None
        for entry in sorted(stocked.split(",")) if stocked else ():
            shop_id, _, available = entry.partition(":")
            shops.append({"shop_id": shop_id, "available": int(available)})
            if int(available) > 0:
                in_stock.add(row[1])
        variant["availability"] = shops
        variant["image"] = image_read(storage, variant["image_key"])
        variants_of[row[1]].append(variant)
    return [
        {
            "id": p.id,
            "reference": p.reference,
            "slug": p.slug,
            "name_fr": p.name_fr,
            "name_en": p.name_en,
            "description_fr": p.description_fr,
            "description_en": p.description_en,
            "category_id": p.category_id,
            "is_active": p.is_active,
            "price": p.min_price,
            "currency": p.currency,
            "in_stock": p.id in in_stock,
            "images": [media.image_read(storage, key) for key in p.image_keys or ()],
            "variants": variants_of.get(p.id, []),
            "created_at": p.created_at,
            "updated_at": p.updated_at,
        }
        for p in products
    ]


def _cursor_value(cursor: dict[str, Any], sort: str, kind: type) -> tuple[Any, str]:
    value: Any = cursor.get("v")
    last_id = cursor.get("id")
    if cursor.get("s") != sort or not isinstance(last_id, str) or type(value) is not kind:
        raise InvalidCursor("The cursor does not belong to this sort order")
    # Out-of-range values would reach the database as bad parameters: refuse them here.
    too_big = abs(value) > MAX_PRICE if isinstance(value, int) else len(str(value)) > 200
    if len(last_id) > 32 or too_big:
        raise InvalidCursor("The cursor is not one this API issued")
    return value, last_id


async def list_products(
    session: AsyncSession, query: ProductQuery, *, include_inactive: bool, storage: Storage
) -> tuple[list[dict[str, Any]], str | None]:
    """Search, filter and sort products with keyset pagination (sort key, then id).

    Items are JSON-ready dicts shaped like `ProductRead`.
    """
    terms = fold(query.q or "").split()[:MAX_SEARCH_TERMS]
    params: dict[str, Any] = {f"term{i}": f"%{like_escape(t)}%" for i, t in enumerate(terms)}
    if query.category_id is not None:
        category = await get_category(session, query.category_id, include_inactive=include_inactive)
        params["category_path"] = category.path + "%"
    if (
        query.min_price is not None
        and query.max_price is not None
        and query.min_price > query.max_price
    ):
        raise InvalidPriceRange("`min_price` is above `max_price`", field="min_price")
    params["min_price"], params["max_price"] = query.min_price, query.max_price
    if (query.shop_id is not None or query.in_stock) and _availability_source is None:
        return [], None
    params["shop_id"] = query.shop_id

    cursor = decode_cursor(query.cursor)
    sort = query.sort
    if sort == "relevance" and not terms:
        sort = "newest"
    if sort == "relevance":
        params["prefix"] = like_escape(" ".join(terms)) + "%"
    if cursor:
        kind = int if sort in ("relevance", "price", "-price") else str
        params["cursor_value"], params["cursor_id"] = _cursor_value(cursor, sort, kind)
    params["limit"] = query.limit + 1

    shape = (
        "listing",
        include_inactive,
        len(terms),
        query.category_id is not None,
        query.min_price is not None,
        query.max_price is not None,
        query.shop_id is not None,
        query.in_stock,
        sort,
        bool(cursor),
        id(_availability_source),
    )
    stmt = _statements.get(shape)
    if stmt is None:
        stmt = _statements[shape] = _listing_statement(
            include_inactive=include_inactive,
            terms=len(terms),
            category=query.category_id is not None,
            min_price=query.min_price is not None,
            max_price=query.max_price is not None,
            shop=query.shop_id is not None,
            in_stock=query.in_stock,
            sort=sort,
            cursor=bool(cursor),
        )
    rows = (await _rows(session, stmt, params)).all()
    products = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1]
        value: Any
        if sort == "relevance":
            value = last.rank
        elif sort == "newest":
            value = last.id
        elif sort == "name":
            value = last.name_key
        else:
            value = last.min_price
        next_cursor = encode_cursor({"s": sort, "v": value, "id": last.id})
    items = await _assemble(session, products, include_inactive=include_inactive, storage=storage)
    return items, next_cursor


def _listing_statement(
    *,
    include_inactive: bool,
    terms: int,
    category: bool,
    min_price: bool,
    max_price: bool,
    shop: bool,
    in_stock: bool,
    sort: str,
    cursor: bool,
) -> Select[Any]:
    """The listing query of one shape; every value is a bound parameter (see list_products)."""
    stmt: Select[Any] = select(*PRODUCT_COLUMNS).where(Product.min_price.is_not(None))
    if not include_inactive:
        stmt = stmt.where(Product.is_active)
    for i in range(terms):
        stmt = stmt.where(
            Product.search_text.like(bindparam(f"term{i}", type_=String), escape="\\")
        )
    if category:
        path = bindparam("category_path", type_=String)
        stmt = stmt.where(
            Product.category_id.in_(select(Category.id).where(Category.path.like(path)))
        )
    if min_price or max_price:
        conditions = [Variant.product_id == Product.id, Variant.is_active]
        if min_price:
            conditions.append(Variant.price >= bindparam("min_price", type_=Integer))
        if max_price:
            conditions.append(Variant.price <= bindparam("max_price", type_=Integer))
        stmt = stmt.where(exists().where(*conditions))
    if (shop or in_stock) and _availability_source is not None:
        shop_id: Any = bindparam("shop_id", type_=String) if shop else None
        stmt = stmt.where(
            _availability_source.product_filter(Product.id, shop_id=shop_id, in_stock=in_stock)
        )
    value: Any = bindparam("cursor_value")
    last: Any = bindparam("cursor_id", type_=String)
    if sort == "relevance":
        prefix = bindparam("prefix", type_=String)
        key = case(
            (
                or_(
                    Product.name_key.like(prefix, escape="\\"),
                    Product.name_en_key.like(prefix, escape="\\"),
                ),
                0,
            ),
            else_=1,
        )
        stmt = stmt.add_columns(key.label("rank"))
        if cursor:
            rank = bindparam("cursor_value", type_=Integer)
            stmt = stmt.where(or_(key > rank, and_(key == rank, Product.id < last)))
        stmt = stmt.order_by(key, Product.id.desc())
    elif sort == "newest":
        if cursor:
            stmt = stmt.where(Product.id < last)
        stmt = stmt.order_by(Product.id.desc())
    elif sort in ("price", "-price"):
        if cursor:
            bound = tuple_(Product.min_price, Product.id)
            key_value = tuple_(bindparam("cursor_value", type_=Integer), last)
            stmt = stmt.where(bound > key_value if sort == "price" else bound < key_value)
        if sort == "price":
            stmt = stmt.order_by(Product.min_price, Product.id)
        else:
            stmt = stmt.order_by(Product.min_price.desc(), Product.id.desc())
    else:
        if cursor:
            stmt = stmt.where(tuple_(Product.name_key, Product.id) > tuple_(value, last))
        stmt = stmt.order_by(Product.name_key, Product.id)
    return stmt.limit(bindparam("limit", type_=Integer))
