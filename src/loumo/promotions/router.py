"""HTTP routes of promotions: staff manage codes; customers check a code against a basket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from loumo.core.auth import CurrentPrincipal, Principal, require
from loumo.core.crud import CrudRoutes
from loumo.core.db import SessionDep
from loumo.core.pagination import CursorParam, LimitParam, Page
from loumo.core.policy import policy
from loumo.core.ratelimit import limit_per_user
from loumo.core.responses import described
from loumo.core.schemas import Id
from loumo.promotions import service
from loumo.promotions.schemas import (
    PromotionCheck,
    PromotionCheckResult,
    PromotionCreate,
    PromotionRead,
    PromotionUpdate,
)

router = APIRouter(prefix="/promotions", tags=["promotions"])
PromotionReader = Annotated[Principal, Depends(require("promotions:read"))]
PromotionId = Annotated[Id, Path(description="A promotion id")]
NOT_FOUND = described({404: "No such promotion"})
promotion_routes = CrudRoutes(
    router, "/{promotion_id}", PromotionRead, id=PromotionId, policy="permission:promotions:write"
)


@router.get("", summary="Promotions, newest first (staff)", **policy("permission:promotions:read"))
async def list_promotions(
    session: SessionDep,
    _: PromotionReader,
    active: Annotated[bool | None, Query(description="Only active or inactive ones")] = None,
    cursor: CursorParam = None,
    limit: LimitParam = 20,
) -> Page[PromotionRead]:
    return await service.list_promotions(session, active=active, cursor=cursor, limit=limit)


promotion_routes.create(
    service.create_promotion,
    PromotionCreate,
    summary="Create a promotion (staff)",
    responses=described({409: "The code is already in use"}),
)


@router.post(
    "/validate",
    summary="Does this code apply to my basket, and how much does it take off?",
    description=(
        "Prices come from the catalog, never from the client. An inapplicable code answers 200 "
        "with `valid: false` and a `reason`; an unknown, retired or future code answers the "
        "same `not_valid` (staff holding `promotions:read` see which). An unknown or "
        "unavailable basket item is a 400. Checks are rate-limited per customer."
    ),
    responses={400: {"description": "Unknown basket item"}},
    dependencies=[Depends(limit_per_user(service.VALIDATE_PER_USER))],
    **policy("authenticated"),
)
async def validate_code(
    data: PromotionCheck, session: SessionDep, principal: CurrentPrincipal
) -> PromotionCheckResult:
    return await service.check_code(
        session,
        user_id=principal.user_id,
        code=data.code,
        items=data.items,
        detailed=principal.has("promotions:read"),
    )


promotion_routes.get(
    service.get_promotion,
    summary="One promotion (staff)",
    responses=NOT_FOUND,
    policy="permission:promotions:read",
)
promotion_routes.update(
    service.update_promotion,
    PromotionUpdate,
    summary="Change a promotion (staff)",
    description=(
        "The changed promotion must stay coherent (a percentage at most 100, targets only for "
        "a scoped promotion, `ends_at` after `starts_at`): otherwise 422, as on creation."
    ),
    responses=NOT_FOUND,
)
promotion_routes.delete(
    service.deactivate_promotion,
    summary="Deactivate a promotion (staff); its uses stay on record",
    responses=NOT_FOUND,
)
