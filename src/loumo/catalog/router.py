"""HTTP routes of the catalog: categories, products and variants."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from loumo.catalog import categories, images, listing, products, variants
from loumo.catalog.permissions import CATEGORIES_WRITE, PRODUCTS_WRITE
from loumo.catalog.schemas import (
    CategoryCreate,
    CategoryRead,
    CategoryTree,
    CategoryUpdate,
    ProductCreate,
    ProductImagesWrite,
    ProductListed,
    ProductQuery,
    ProductRead,
    ProductUpdate,
    VariantCreate,
    VariantRead,
    VariantUpdate,
)
from loumo.core.auth import OptionalPrincipal, Principal, holds_any, require, sees_inactive
from loumo.core.crud import CrudRoutes
from loumo.core.db import SessionDep
from loumo.core.http_cache import CachedRead, cacheable
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.reads import ReaderDep
from loumo.core.responses import described, no_content
from loumo.media import intake
from loumo.media.dependencies import WITH_STORAGE, StorageDep
from loumo.media.schemas import MediaKey

router = APIRouter(tags=["catalog"])

ProductWriter = Annotated[Principal, Depends(require(PRODUCTS_WRITE))]
SeesInactiveProducts = Annotated[bool, Depends(holds_any(PRODUCTS_WRITE))]
SeesInactiveCategories = Annotated[bool, Depends(holds_any(CATEGORIES_WRITE))]
SKU_TAKEN = described({409: "SKU already used"})
# What the routes that change a product and answer it declare (besides path and texts).
PRODUCT_WRITE: dict[str, Any] = {
    "response_model": ProductRead,
    **policy("permission:products:write"),
}


def _json(content: Any, status_code: int = 200) -> Response:
    """Product reads are built as JSON-ready dicts by the service (the hot path skips a second
    validation pass); `response_model` still documents them."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


@router.get(
    "/categories",
    summary="The category tree (staff also see inactive categories)",
    **cacheable(CategoryTree),
    **policy("public"),
)
async def list_categories(
    session: SessionDep,
    include_inactive: SeesInactiveCategories,
    storage: StorageDep,
    cached: CachedRead,
) -> Response:
    items = await categories.category_tree(
        session, include_inactive=include_inactive, storage=storage
    )
    return cached(CategoryTree(items=items))


category_routes = CrudRoutes(
    router,
    "/categories/{category_id}",
    CategoryRead,
    policy="permission:categories:write",
    read_with=WITH_STORAGE,
)
category_routes.cached_get(
    categories.get_category,
    summary="One category",
    keywords={"include_inactive": SeesInactiveCategories},
)
category_routes.create(
    categories.create_category,
    CategoryCreate,
    summary="Create a category (staff)",
    responses=described({409: "A sibling already has this slug"}),
)
category_routes.update(
    categories.update_category,
    CategoryUpdate,
    summary="Change or move a category (staff)",
    responses=described({409: "Slug taken among siblings, or the move makes a cycle"}),
)
category_routes.delete(
    categories.delete_category,
    summary="Delete an empty category (staff)",
    responses=described({409: "It still has subcategories or products"}),
)


@router.get(
    "/products",
    summary="Search, filter and sort products",
    **cacheable(Page[ProductListed]),
    description=(
        "`q` matches names (French and English), descriptions and SKUs, ignoring accents and "
        "case; products whose name starts with `q` come first under `sort=relevance` (without "
        "`q`, relevance is newest first). `category_id` includes its descendants. Only products "
        "with at least one active variant are listed. Pass `next_cursor` back as `cursor`."
    ),
    **policy("public"),
)
async def list_products(
    reader: ReaderDep,
    principal: OptionalPrincipal,
    storage: StorageDep,
    cached: CachedRead,
    query: Annotated[ProductQuery, Query()],
) -> Response:
    async def read() -> bytes:
        items, next_cursor = await listing.list_products(
            reader,
            query,
            include_inactive=sees_inactive(principal, PRODUCTS_WRITE),
            storage=storage,
        )
        return orjson.dumps({"items": items, "next_cursor": next_cursor})

    return await cached.reuse(read)


@router.get(
    "/products/{product_id}",
    summary="One product by id or slug",
    **cacheable(ProductRead),
    **policy("public"),
)
async def get_product(
    product_id: str,
    reader: ReaderDep,
    principal: OptionalPrincipal,
    storage: StorageDep,
    cached: CachedRead,
) -> Response:
    async def read() -> bytes:
        product = await listing.get_product(
            reader,
            product_id,
            include_inactive=sees_inactive(principal, PRODUCTS_WRITE),
            storage=storage,
        )
        return orjson.dumps(product)

    return await cached.reuse(read)


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    summary="Create a product, optionally with its variants (staff)",
    responses=described(
        {400: "Unknown category or currency mismatch", 409: "Reference, slug or SKU already used"}
    ),
    **PRODUCT_WRITE,
)
async def create_product(
    data: ProductCreate, session: SessionDep, _: ProductWriter, storage: StorageDep
) -> Response:
    created = await products.create_product(session, data, storage=storage)
    return _json(created, status.HTTP_201_CREATED)


@router.patch(
    "/products/{product_id}",
    summary="Change a product (staff)",
    responses=described(
        {400: "Unknown category or media key", 409: "Reference or slug already used"}
    ),
    **PRODUCT_WRITE,
)
async def update_product(
    product_id: str, data: ProductUpdate, session: SessionDep, _: ProductWriter, storage: StorageDep
) -> Response:
    return _json(await products.update_product(session, product_id, data, storage=storage))


@router.post(
    "/products/{product_id}/images",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductRead,
    summary="Add an image to a product (staff): upload it, or name an uploaded one",
    description=(
        "Either a multipart upload (`file`: JPEG, PNG or WebP; counts against the per-user "
        'upload limit) or JSON `{"key": "<media key>"}` of an image uploaded before. The image '
        "goes last; `PUT /products/{id}/images` reorders."
    ),
    responses={
        **intake.UPLOAD_RESPONSES,
        **described({409: "Already there, or 20 images already"}),
    },
    openapi_extra={
        **intake.upload_body(),
        **policy("permission:products:write")["openapi_extra"],
    },
)
async def add_product_image(
    product_id: str,
    request: Request,
    session: SessionDep,
    principal: ProductWriter,
    storage: StorageDep,
) -> Response:
    # Refuse an unknown product or a full list before taking in an upload.
    await images.check_image_slot(session, product_id)
    key = await intake.image_key(request, session, storage, principal, purpose="product")
    read = await images.add_product_image(session, product_id, key, storage=storage)
    return _json(read, status.HTTP_201_CREATED)


@router.put(
    "/products/{product_id}/images",
    summary="Set a product's images in order (staff): reorder, add or drop keys",
    responses=described({400: "Unknown or repeated media key"}),
    **PRODUCT_WRITE,
)
async def set_product_images(
    product_id: str,
    data: ProductImagesWrite,
    session: SessionDep,
    _: ProductWriter,
    storage: StorageDep,
) -> Response:
    read = await images.set_product_images(session, product_id, data.images, storage=storage)
    return _json(read)


@router.delete(
    "/products/{product_id}/images/{key}",
    summary="Remove an image from a product (staff)",
    responses=described({404: "Unknown product, or the product has no such image"}),
    **no_content(),
    **policy("permission:products:write"),
)
async def remove_product_image(
    product_id: str, key: Annotated[MediaKey, Path()], session: SessionDep, _: ProductWriter
) -> None:
    await images.remove_product_image(session, product_id, key)


product_routes = CrudRoutes(
    router, "/products/{product_id}", ProductRead, policy="permission:products:write"
)
product_routes.delete(
    products.deactivate_product, summary="Deactivate a product (staff); it stays for order history"
)


@router.get(
    "/products/{product_id}/variants",
    summary="Variants of a product, with availability",
    description="Every variant, by position, in one page (`next_cursor` is null).",
    **policy("public"),
)
async def list_variants(
    product_id: str,
    session: SessionDep,
    include_inactive: SeesInactiveProducts,
    storage: StorageDep,
) -> Page[VariantRead]:
    items = await variants.list_variants(
        session, product_id, include_inactive=include_inactive, storage=storage
    )
    return Page[VariantRead](items=items)


variant_routes = CrudRoutes(
    router,
    "/variants/{variant_id}",
    VariantRead,
    policy="permission:products:write",
    read_with=WITH_STORAGE,
)
variant_routes.create(
    variants.create_variant,
    VariantCreate,
    path="/products/{product_id}/variants",
    summary="Add a variant to a product (staff)",
    responses=SKU_TAKEN,
)
variant_routes.get(
    variants.get_variant,
    summary="One variant, with availability",
    policy="public",
    keywords={"include_inactive": SeesInactiveProducts},
)
variant_routes.update(
    variants.update_variant, VariantUpdate, summary="Change a variant (staff)", responses=SKU_TAKEN
)
variant_routes.delete(
    variants.deactivate_variant,
    summary="Deactivate a variant (staff); it stays for stock and order history",
)
