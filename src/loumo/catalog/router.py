"""HTTP routes of the catalog: categories, products and variants."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response, status

from loumo.catalog import service
from loumo.catalog.schemas import (
    MAX_PRICE,
    CategoryCreate,
    CategoryRead,
    CategoryTree,
    CategoryUpdate,
    ProductCreate,
    ProductQuery,
    ProductRead,
    ProductSort,
    ProductUpdate,
    VariantCreate,
    VariantRead,
    VariantUpdate,
)
from loumo.core.auth import OptionalPrincipal, Principal, require
from loumo.core.db import SessionDep
from loumo.core.pagination import CursorParam, LimitParam, Page
from loumo.core.policy import policy

router = APIRouter(tags=["catalog"])

CategoryWriter = Annotated[Principal, Depends(require("categories:write"))]
ProductWriter = Annotated[Principal, Depends(require("products:write"))]


def _json(content: Any, status_code: int = 200) -> Response:
    """Product reads are built as JSON-ready dicts by the service (the hot path skips a second
    validation pass); `response_model` still documents them."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def _sees_inactive(principal: Principal | None, permission: str) -> bool:
    return principal is not None and principal.has(permission)


@router.get(
    "/categories",
    summary="The category tree (staff also see inactive categories)",
    **policy("public"),
)
async def list_categories(session: SessionDep, principal: OptionalPrincipal) -> CategoryTree:
    items = await service.category_tree(
        session, include_inactive=_sees_inactive(principal, "categories:write")
    )
    return CategoryTree(items=items)


@router.get("/categories/{category_id}", summary="One category", **policy("public"))
async def get_category(
    category_id: str, session: SessionDep, principal: OptionalPrincipal
) -> CategoryRead:
    category = await service.get_category(
        session, category_id, include_inactive=_sees_inactive(principal, "categories:write")
    )
    return CategoryRead.model_validate(category)


@router.post(
    "/categories",
    status_code=status.HTTP_201_CREATED,
    summary="Create a category (staff)",
    responses={409: {"description": "A sibling already has this slug"}},
    **policy("permission:categories:write"),
)
async def create_category(
    data: CategoryCreate, session: SessionDep, _: CategoryWriter
) -> CategoryRead:
    return CategoryRead.model_validate(await service.create_category(session, data))


@router.patch(
    "/categories/{category_id}",
    summary="Change or move a category (staff)",
    responses={409: {"description": "Slug taken among siblings, or the move makes a cycle"}},
    **policy("permission:categories:write"),
)
async def update_category(
    category_id: str, data: CategoryUpdate, session: SessionDep, _: CategoryWriter
) -> CategoryRead:
    return CategoryRead.model_validate(await service.update_category(session, category_id, data))


@router.delete(
    "/categories/{category_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an empty category (staff)",
    responses={409: {"description": "It still has subcategories or products"}},
    **policy("permission:categories:write"),
)
async def delete_category(category_id: str, session: SessionDep, _: CategoryWriter) -> Response:
    await service.delete_category(session, category_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/products",
    response_model=Page[ProductRead],
    summary="Search, filter and sort products",
    description=(
        "`q` matches names (French and English), descriptions and SKUs, ignoring accents and "
        "case; products whose name starts with `q` come first under `sort=relevance` (without "
        "`q`, relevance is newest first). `category_id` includes its descendants. Only products "
        "with at least one active variant are listed. Pass `next_cursor` back as `cursor`."
    ),
    **policy("public"),
)
async def list_products(
    session: SessionDep,
    principal: OptionalPrincipal,
    q: Annotated[str | None, Query(max_length=100, description="Search text")] = None,
    category_id: Annotated[str | None, Query(max_length=32)] = None,
    shop_id: Annotated[str | None, Query(max_length=32, description="Stocked by shop")] = None,
    min_price: Annotated[int | None, Query(ge=0, le=MAX_PRICE, description="Minor units")] = None,
    max_price: Annotated[int | None, Query(ge=0, le=MAX_PRICE, description="Minor units")] = None,
    in_stock: Annotated[bool, Query(description="Only products available now")] = False,
    sort: ProductSort = "relevance",
    cursor: CursorParam = None,
    limit: LimitParam = 20,
) -> Response:
    query = ProductQuery(
        q=q,
        category_id=category_id,
        shop_id=shop_id,
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    items, next_cursor = await service.list_products(
        session, query, include_inactive=_sees_inactive(principal, "products:write")
    )
    return _json({"items": items, "next_cursor": next_cursor})


@router.get(
    "/products/{product_id}",
    response_model=ProductRead,
    summary="One product by id or slug",
    **policy("public"),
)
async def get_product(
    product_id: str, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    product = await service.get_product(
        session, product_id, include_inactive=_sees_inactive(principal, "products:write")
    )
    return _json(product)


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductRead,
    summary="Create a product, optionally with its variants (staff)",
    responses={
        400: {"description": "Unknown category or currency mismatch"},
        409: {"description": "Reference, slug or SKU already used"},
    },
    **policy("permission:products:write"),
)
async def create_product(data: ProductCreate, session: SessionDep, _: ProductWriter) -> Response:
    product = await service.create_product(session, data)
    created = await service.get_product(session, product.id, include_inactive=True)
    return _json(created, status.HTTP_201_CREATED)


@router.patch(
    "/products/{product_id}",
    response_model=ProductRead,
    summary="Change a product (staff)",
    **policy("permission:products:write"),
)
async def update_product(
    product_id: str, data: ProductUpdate, session: SessionDep, _: ProductWriter
) -> Response:
    product = await service.update_product(session, product_id, data)
    return _json(await service.get_product(session, product.id, include_inactive=True))


@router.delete(
    "/products/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Deactivate a product (staff); it stays for order history",
    **policy("permission:products:write"),
)
async def delete_product(product_id: str, session: SessionDep, _: ProductWriter) -> Response:
    await service.deactivate_product(session, product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/products/{product_id}/variants",
    summary="Variants of a product, with availability",
    **policy("public"),
)
async def list_variants(
    product_id: str, session: SessionDep, principal: OptionalPrincipal
) -> list[VariantRead]:
    return await service.list_variants(
        session, product_id, include_inactive=_sees_inactive(principal, "products:write")
    )


@router.post(
    "/products/{product_id}/variants",
    status_code=status.HTTP_201_CREATED,
    summary="Add a variant to a product (staff)",
    **policy("permission:products:write"),
)
async def create_variant(
    product_id: str, data: VariantCreate, session: SessionDep, _: ProductWriter
) -> VariantRead:
    variant = await service.create_variant(session, product_id, data)
    return await service.get_variant(session, variant.id, include_inactive=True)


@router.get("/variants/{variant_id}", summary="One variant, with availability", **policy("public"))
async def get_variant(
    variant_id: str, session: SessionDep, principal: OptionalPrincipal
) -> VariantRead:
    return await service.get_variant(
        session, variant_id, include_inactive=_sees_inactive(principal, "products:write")
    )


@router.patch(
    "/variants/{variant_id}",
    summary="Change a variant (staff)",
    **policy("permission:products:write"),
)
async def update_variant(
    variant_id: str, data: VariantUpdate, session: SessionDep, _: ProductWriter
) -> VariantRead:
    variant = await service.update_variant(session, variant_id, data)
    return await service.get_variant(session, variant.id, include_inactive=True)


@router.delete(
    "/variants/{variant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Deactivate a variant (staff); it stays for stock and order history",
    **policy("permission:products:write"),
)
async def delete_variant(variant_id: str, session: SessionDep, _: ProductWriter) -> Response:
    await service.deactivate_variant(session, variant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
