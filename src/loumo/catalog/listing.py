"""The product reads: one product (by id or slug) and the searched, filtered, sorted listing.

The hot read path: statements are built once per shape with bound parameters, run as Core reads,
and answered as JSON-ready dicts shaped like `ProductRead` (which documents them and which a
test checks them against), with each variant's availability (`availability.py`) and image URLs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import (
    Float,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY

from loumo.catalog.availability import AvailabilitySource, availability_source
from loumo.catalog.errors import InvalidPriceRange
from loumo.catalog.models import Category, Product, Variant
from loumo.catalog.schemas import MAX_PRICE, ProductQuery
from loumo.catalog.text import fold, like_escape
from loumo.core.db import visible
from loumo.core.errors import NotFound
from loumo.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from loumo.core.reads import ReadConnection, Reader
from loumo.media import service as media
from loumo.media.storage import Storage

MAX_SEARCH_TERMS = 8

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
    # float8 on every engine: asyncpg hands numeric back as Decimal, which JSON would not take.
    cast(Variant.weight, Float).label("weight"),
    Variant.unit,
    Variant.position,
    Variant.is_active,
    Variant.image_key,
)
VARIANT_KEYS = tuple(c.key for c in VARIANT_COLUMNS)
VARIANT_WIDTH = len(VARIANT_COLUMNS)
PRODUCT_WIDTH = len(PRODUCT_COLUMNS)
# Positions in a product row (rows are plain tuples: see `loumo.core.db.Reader`).
P = {c.key: i for i, c in enumerate(PRODUCT_COLUMNS)}


class Reads(Protocol):
    """Where reads run: a `Reader` (public reads) or `SessionReads` (a write's answer, which
    must see the unit of work's own changes)."""

    async def rows(self, stmt: Select[Any], params: Mapping[str, Any]) -> Sequence[Any]: ...


# Statements of the hot read paths are built once per shape, with bound parameters: building a
# statement and computing its cache key cost more than running it (both are memoised on the
# statement object, so a reused one skips them).
_statements: dict[tuple[Any, ...], Select[Any]] = {}


def _with_variants(stmt: Select[Any], source: AvailabilitySource | None) -> Select[Any]:
    stmt = stmt.order_by(Variant.position, Variant.id)
    if source is not None:
        stmt = stmt.add_columns(source.availability_column(Variant.id))
    return stmt


def _product_statement(include_inactive: bool) -> Select[Any]:
    """One product by id or slug with its variants and their availability: one row per
    variant (one with NULL variant columns when it has none), in one round trip."""
    source = availability_source()
    shape = ("product", include_inactive, id(source))
    stmt = _statements.get(shape)
    if stmt is None:
        key = bindparam("key", type_=String)
        joined = Variant.product_id == Product.id
        if not include_inactive:
            joined = and_(joined, Variant.is_active)
        stmt = (
            select(*PRODUCT_COLUMNS, *VARIANT_COLUMNS)
            .select_from(Product)
            .outerjoin(Variant, joined)
            .where(or_(Product.id == key, Product.slug == key))
            .order_by(Product.id)
        )
        stmt = _statements[shape] = _with_variants(stmt, source)
    return stmt


def _variants_statement(include_inactive: bool, dialect: str) -> Select[Any]:
    source = availability_source()
    shape = ("variants", include_inactive, dialect, id(source))
    stmt = _statements.get(shape)
    if stmt is None:
        # PostgreSQL takes the ids as one array: the SQL text stays the same whatever the page
        # size (no IN list to render per call, one prepared statement).
        matches = (
            Variant.product_id == any_(bindparam("ids", type_=ARRAY(String)))
            if dialect == "postgresql"
            else Variant.product_id.in_(bindparam("ids", expanding=True))
        )
        stmt = visible(
            select(*VARIANT_COLUMNS).where(matches),
            Variant.is_active,
            include_inactive=include_inactive,
        )
        stmt = _statements[shape] = _with_variants(stmt, source)
    return stmt


def _category_statement() -> Select[Any]:
    stmt = _statements.get(("category",))
    if stmt is None:
        category_id = bindparam("category_id", type_=String)
        columns: tuple[Any, ...] = (Category.path, Category.is_active)
        stmt = _statements["category",] = select(*columns).where(Category.id == category_id)
    return stmt


def _variant(row: Sequence[Any], at: int, storage: Storage) -> tuple[dict[str, Any], bool]:
    """The variant in `row` from column `at` on, shaped like `VariantRead`, and whether it is
    available somewhere. Unpacked by position, several times cheaper than by name."""
    variant = dict(zip(VARIANT_KEYS, row[at : at + VARIANT_WIDTH], strict=True))
    shops: list[dict[str, Any]] = []
    available_somewhere = False
    stocked = row[at + VARIANT_WIDTH] if len(row) > at + VARIANT_WIDTH else None
    for entry in sorted(stocked.split(",")) if stocked else ():
        shop_id, _, count = entry.partition(":")
        available = int(count)
        shops.append({"shop_id": shop_id, "available": available})
        available_somewhere = available_somewhere or available > 0
    variant["availability"] = shops
    key = variant["image_key"]
    variant["image"] = media.image_read(storage, key) if key else None
    return variant, available_somewhere


def _product(
    p: Sequence[Any], variants: list[dict[str, Any]], in_stock: bool, storage: Storage
) -> dict[str, Any]:
    """A product row and its variants as a JSON-ready dict shaped like `ProductRead`."""
    return {
        "id": p[0],
        "reference": p[1],
        "slug": p[2],
        "name_fr": p[3],
        "name_en": p[4],
        "description_fr": p[5],
        "description_en": p[6],
        "category_id": p[7],
        "is_active": p[8],
        "price": p[9],
        "currency": p[10],
        "in_stock": in_stock,
        "images": [media.image_read(storage, key) for key in p[14] or ()],
        "variants": variants,
        "created_at": p[11],
        "updated_at": p[12],
    }


async def _variant_rows(
    reads: ReadConnection, products: Sequence[Any], *, include_inactive: bool
) -> Sequence[Any]:
    """The variants (with availability) of a page of products, in one query whatever its size."""
    if not products:
        return []
    stmt = _variants_statement(include_inactive, reads.dialect)
    return await reads.rows(stmt, {"ids": [p[0] for p in products]})


def _assemble(
    products: Sequence[Any], variant_rows: Sequence[Any], storage: Storage
) -> list[dict[str, Any]]:
    """A page of products as JSON-ready dicts (shaped like `ProductRead`, which documents
    them and which a test checks them against), built from Core rows rather than ORM objects
    and models: several times cheaper per page. Runs after the connection went back."""
    variants_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    in_stock: set[str] = set()
    for row in variant_rows:
        variant, available = _variant(row, 0, storage)
        variants_of[row[1]].append(variant)
        if available:
            in_stock.add(row[1])
    return [_product(p, variants_of.get(p[0], []), p[0] in in_stock, storage) for p in products]


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
    reader: Reader, query: ProductQuery, *, include_inactive: bool, storage: Storage
) -> tuple[list[dict[str, Any]], str | None]:
    """Search, filter and sort products with keyset pagination (sort key, then id), on one
    pooled connection held for the read's statements only.

    Items are JSON-ready dicts shaped like `ProductRead`.
    """
    async with reader.connection() as reads:
        products, variant_rows, next_cursor = await _list_products(
            reads, query, include_inactive=include_inactive
        )
    return _assemble(products, variant_rows, storage), next_cursor


async def _list_products(
    reads: ReadConnection, query: ProductQuery, *, include_inactive: bool
) -> tuple[Sequence[Any], Sequence[Any], str | None]:
    """The page's product rows, their variant rows and the next cursor."""
    terms = fold(query.q or "").split()[:MAX_SEARCH_TERMS]
    params: dict[str, Any] = {f"term{i}": f"%{like_escape(t)}%" for i, t in enumerate(terms)}
    if query.category_id is not None:
        found = await reads.rows(_category_statement(), {"category_id": query.category_id})
        if not found or not (include_inactive or found[0][1]):
            raise NotFound(f"No category {query.category_id}")
        params["category_path"] = found[0][0] + "%"
    if (
        query.min_price is not None
        and query.max_price is not None
        and query.min_price > query.max_price
    ):
        raise InvalidPriceRange("`min_price` is above `max_price`", field="min_price")
    params["min_price"], params["max_price"] = query.min_price, query.max_price
    source = availability_source()
    if (query.shop_id is not None or query.in_stock) and source is None:
        return [], [], None
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
        id(source),
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
    rows = await reads.rows(stmt, params)
    products = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1]
        value: Any
        if sort == "relevance":
            value = last[PRODUCT_WIDTH]  # the rank column, after the product's
        elif sort == "newest":
            value = last[P["id"]]
        elif sort == "name":
            value = last[P["name_key"]]
        else:
            value = last[P["min_price"]]
        next_cursor = encode_cursor({"s": sort, "v": value, "id": last[P["id"]]})
    variant_rows = await _variant_rows(reads, products, include_inactive=include_inactive)
    return products, variant_rows, next_cursor


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
    source = availability_source()
    stmt: Select[Any] = visible(
        select(*PRODUCT_COLUMNS).where(Product.min_price.is_not(None)),
        Product.is_active,
        include_inactive=include_inactive,
    )
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
    if (shop or in_stock) and source is not None:
        shop_id: Any = bindparam("shop_id", type_=String) if shop else None
        stmt = stmt.where(source.product_filter(Product.id, shop_id=shop_id, in_stock=in_stock))
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


async def get_product(
    reads: Reads, id_or_slug: str, *, include_inactive: bool, storage: Storage
) -> dict[str, Any]:
    """One product as a JSON-ready dict shaped like `ProductRead`, in one statement."""
    rows = await reads.rows(_product_statement(include_inactive), {"key": id_or_slug})
    if not rows or not (include_inactive or rows[0][P["is_active"]]):
        raise NotFound(f"No product {id_or_slug}")
    product = rows[0]
    variants: list[dict[str, Any]] = []
    in_stock = False
    for row in rows:
        if row[0] != product[0]:
            break  # another product whose slug is this id: the first one wins
        if row[PRODUCT_WIDTH] is None:
            continue  # no variant (the outer join's empty side)
        variant, available = _variant(row, PRODUCT_WIDTH, storage)
        variants.append(variant)
        in_stock = in_stock or available
    return _product(product, variants, in_stock, storage)
