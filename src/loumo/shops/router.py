"""HTTP routes of shops, their managers and their stock."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from loumo.core.auth import (
    CurrentPrincipal,
    Principal,
    holds_any,
    manager_or,
    require,
)
from loumo.core.crud import CrudRoutes
from loumo.core.db import SessionDep
from loumo.core.http_cache import CachedRead, cacheable
from loumo.core.pagination import CursorParam, LimitParam, Page
from loumo.core.policy import policy
from loumo.core.responses import described, no_content
from loumo.core.schemas import Id
from loumo.media import intake
from loumo.media.dependencies import WITH_STORAGE, StorageDep
from loumo.shops import managers, shops, stock
from loumo.shops.permissions import SHOPS_WRITE, STOCK_WRITE
from loumo.shops.schemas import (
    ShopCreate,
    ShopRead,
    ShopUpdate,
    StockAdjustment,
    StockMovementRead,
    StockRead,
    StockWrite,
)

router = APIRouter(prefix="/shops", tags=["shops"])
UserId = Annotated[Id, Path(description="A user id")]
ShopWriter = Annotated[Principal, Depends(require(SHOPS_WRITE))]
SeesInactive = Annotated[bool, Depends(holds_any(SHOPS_WRITE))]  # staff see all
shop_routes = CrudRoutes(
    router, "/{shop_id}", ShopRead, policy="permission:shops:write", read_with=WITH_STORAGE
)
ZONE_OR_SLUG = described({400: "Unknown zone", 409: "Slug taken"})

STOCK_POLICY = (
    "Allowed to staff holding `stock:write` (any shop) and to the shop's managers; anyone "
    "else gets 403. An unknown shop answers 404."
)


def stock_route(more: str = "", *, conflict: str | None = None) -> dict[str, Any]:
    """What every stock route declares: who may call it (described, enforced and declared as
    its policy), its 403 and 404, then `more` description and a 409 `conflict`, if any."""
    responses: dict[int | str, dict[str, str]] = {
        403: {"description": "The caller neither manages this shop nor holds `stock:write`"},
        404: {"description": "Unknown shop or variant"},
    }
    if conflict is not None:
        responses[409] = {"description": conflict}
    return {
        "description": STOCK_POLICY + more,
        "responses": responses,
        "dependencies": [Depends(manager_or(STOCK_WRITE))],
        **policy("manager_or:stock:write"),
    }


IMAGE_POLICY = (
    "Allowed to staff holding `shops:write` (any shop) and to the shop's managers; anyone "
    "else gets 403 (before the upload is read). An unknown shop answers 404."
)


@router.get(
    "",
    summary="Shops (active ones; staff see all)",
    **cacheable(Page[ShopRead]),
    **policy("public"),
)
async def list_shops(
    session: SessionDep,
    include_inactive: SeesInactive,
    storage: StorageDep,
    cached: CachedRead,
    zone_id: Annotated[str | None, Query(max_length=32)] = None,
    cursor: CursorParam = None,
    limit: LimitParam = 20,
) -> Response:
    page = await shops.list_shops(
        session,
        include_inactive=include_inactive,
        zone_id=zone_id,
        cursor=cursor,
        limit=limit,
        storage=storage,
    )
    return cached(page)


shop_routes.cached_get(
    shops.get_shop,
    summary="One shop, by id or slug",
    keywords={"include_inactive": SeesInactive},
)
shop_routes.create(
    shops.create_shop, ShopCreate, summary="Create a shop (staff)", responses=ZONE_OR_SLUG
)
shop_routes.update(
    shops.update_shop, ShopUpdate, summary="Change a shop (staff)", responses=ZONE_OR_SLUG
)
shop_routes.delete(
    shops.deactivate_shop, summary="Deactivate a shop (staff); it stays for stock and order history"
)


@router.put(
    "/{shop_id}/image",
    summary="Set the shop's image: upload one, or name an uploaded one",
    description=(
        IMAGE_POLICY + ' Send a multipart upload (`file`) or JSON `{"key": "<media key>"}`.'
    ),
    responses={
        **intake.UPLOAD_RESPONSES,
        **described(
            {
                403: "The caller neither manages this shop nor holds `shops:write`",
                404: "Unknown shop",
            }
        ),
    },
    dependencies=[Depends(manager_or(SHOPS_WRITE))],
    openapi_extra={**intake.upload_body(), **policy("manager_or:shops:write")["openapi_extra"]},
)
async def set_shop_image(
    shop_id: str,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: StorageDep,
) -> ShopRead:
    # Refuse callers who may not change this shop before taking in an upload.
    await shops.image_shop(session, principal, shop_id)
    key = await intake.image_key(request, session, storage, principal, purpose="shop")
    return await shops.set_shop_image(session, principal, shop_id, key, storage=storage)


@router.delete(
    "/{shop_id}/image",
    summary="Remove the shop's image",
    description=IMAGE_POLICY,
    responses=described({403: "Not a manager of this shop", 404: "No shop"}),
    dependencies=[Depends(manager_or(SHOPS_WRITE))],
    **policy("manager_or:shops:write"),
)
async def remove_shop_image(
    shop_id: str, session: SessionDep, principal: CurrentPrincipal, storage: StorageDep
) -> ShopRead:
    return await shops.set_shop_image(session, principal, shop_id, None, storage=storage)


@router.get(
    "/{shop_id}/managers",
    summary="User ids of the shop's managers (staff)",
    description="Every manager's user id, sorted, in one page (`next_cursor` is null).",
    **policy("permission:shops:write"),
)
async def list_managers(shop_id: str, session: SessionDep, _: ShopWriter) -> Page[str]:
    return Page[str](items=await managers.list_managers(session, shop_id))


@router.put(
    "/{shop_id}/managers/{user_id}",
    summary="Make a user a manager of the shop (staff; idempotent)",
    **no_content(),
    **policy("permission:shops:write"),
)
async def add_manager(shop_id: str, user_id: UserId, session: SessionDep, _: ShopWriter) -> None:
    await managers.add_manager(session, shop_id, user_id)


@router.delete(
    "/{shop_id}/managers/{user_id}",
    summary="Stop a user managing the shop (staff; idempotent)",
    **no_content(),
    **policy("permission:shops:write"),
)
async def remove_manager(shop_id: str, user_id: UserId, session: SessionDep, _: ShopWriter) -> None:
    await managers.remove_manager(session, shop_id, user_id)


@router.get(
    "/{shop_id}/stock", summary="Stock of a shop (managers and stock staff)", **stock_route()
)
async def list_stock(
    shop_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: CursorParam = None,
    limit: LimitParam = 20,
) -> Page[StockRead]:
    return await stock.list_stock(session, principal, shop_id, cursor=cursor, limit=limit)


@router.get(
    "/{shop_id}/stock/{variant_id}", summary="Stock of one variant in a shop", **stock_route()
)
async def get_stock(
    shop_id: str, variant_id: str, session: SessionDep, principal: CurrentPrincipal
) -> StockRead:
    return await stock.get_stock(session, principal, shop_id, variant_id)


@router.put(
    "/{shop_id}/stock/{variant_id}",
    summary="Set the quantity and threshold of a variant in a shop",
    **stock_route(
        " The quantity cannot go below the reserved units (409).",
        conflict="Below the reserved units",
    ),
)
async def set_stock(
    shop_id: str,
    variant_id: str,
    data: StockWrite,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> StockRead:
    return await stock.set_stock(session, principal, shop_id, variant_id, data)


@router.post(
    "/{shop_id}/stock/{variant_id}/adjustments",
    summary="Add or remove units, with a reason",
    **stock_route(
        " Never goes below zero or the reserved units (409).", conflict="Not enough units"
    ),
)
async def adjust_stock(
    shop_id: str,
    variant_id: str,
    data: StockAdjustment,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> StockRead:
    return await stock.adjust_stock(
        session, principal, shop_id, variant_id, delta=data.delta, reason=data.reason
    )


@router.get(
    "/{shop_id}/stock/{variant_id}/movements",
    summary="The stock movement ledger of a variant in a shop, newest first",
    **stock_route(),
)
async def list_movements(
    shop_id: str,
    variant_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: CursorParam = None,
    limit: LimitParam = 20,
) -> Page[StockMovementRead]:
    return await stock.list_movements(
        session, principal, shop_id, variant_id, cursor=cursor, limit=limit
    )
