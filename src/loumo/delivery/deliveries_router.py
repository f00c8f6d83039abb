"""HTTP routes of deliveries: assigning, reading, the agent's moves (start, complete with the
code, proof, fail), staff's (reschedule, cancel, reissue the code), the customer's code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import JSONResponse
from fastapi.types import DecoratedCallable

from loumo.audit.deps import RequestMetaDep
from loumo.content import settings as business
from loumo.core.auth import CurrentPrincipal, Principal, require
from loumo.core.db import SessionDep
from loumo.core.idempotency import OnceDep
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.settings import app_settings
from loumo.delivery import DELIVERIES_WRITE, closing, dispatch, moves, proofs, schemas, visibility
from loumo.media import intake
from loumo.media.dependencies import StorageDep
from loumo.orders.router import OrderId

deliveries_router = APIRouter(tags=["delivery"])
DeliveryId = Annotated[str, Path(min_length=1, max_length=32, description="A delivery id")]
DeliveryWriter = Annotated[Principal, Depends(require(DELIVERIES_WRITE))]

AGENT_ONLY = (
    "Only the agent the delivery is assigned to; a delivery the caller cannot see is a 404, "
    "one they see but do not carry a 403."
)


def _agent_move(
    action: str, summary: str, more: str = "", **declared: Any
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """`POST /deliveries/{delivery_id}/<action>` by the delivery's agent: answered with the
    delivery as its agent sees it, described by `AGENT_ONLY` and then `more`."""
    extra = {**declared.pop("openapi_extra", {}), **policy("owner")["openapi_extra"]}
    return deliveries_router.post(
        f"/deliveries/{{delivery_id}}/{action}",
        response_model=schemas.DeliveryRead,
        summary=summary,
        description=AGENT_ONLY + more,
        openapi_extra=extra,
        **declared,
    )


def _staff_move(action: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """`POST /deliveries/{delivery_id}/<action>` by staff holding `deliveries:write`: answered
    with the delivery as staff see it."""
    return deliveries_router.post(
        f"/deliveries/{{delivery_id}}/{action}",
        response_model=schemas.DeliveryRead,
        summary=summary,
        **policy(f"permission:{DELIVERIES_WRITE}"),
    )


@deliveries_router.post(
    "/orders/{order_id}/deliveries",
    response_model=schemas.DeliveryRead,
    status_code=status.HTTP_201_CREATED,
    summary="Assign a ready fulfilment of the order to an agent (named, or the fairest)",
    responses={
        400: {"description": "Unknown agent or fulfilment, or an agent outside the zone"},
        409: {"description": "Not ready, already assigned, agent at capacity, none available"},
    },
    **policy(f"permission:{DELIVERIES_WRITE}"),
)
async def assign_delivery(
    order_id: OrderId,
    body: schemas.DeliveryCreate,
    session: SessionDep,
    principal: DeliveryWriter,
    meta: RequestMetaDep,
    storage: StorageDep,
) -> schemas.DeliveryRead:
    delivery = await dispatch.assign(session, principal, order_id, body, meta=meta)
    return await _staff_answer(session, delivery, storage)


@deliveries_router.get(
    "/orders/{order_id}/delivery-code",
    response_model=Page[schemas.DeliveryCode],
    summary="The closing code of your own order while it is out for delivery",
    description="One code per shop's delivery under way. Any other order, or an order with "
    "nothing out, is a 404.",
    **policy("owner"),
)
async def delivery_code(
    order_id: OrderId, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Page[schemas.DeliveryCode]:
    return await closing.delivery_codes(
        session,
        principal,
        order_id,
        secret_key=request.app.state.secret_key,
        code_ttl=await business.value(session, business.DELIVERY_CODE_TTL, app_settings(request)),
    )


@deliveries_router.get(
    "/deliveries",
    response_model=Page[schemas.DeliveryRead],
    summary="Deliveries the caller may see, most urgent first (`mine=1` for an agent's own)",
    description="Agents see their own, shop managers their shops', customers their orders', "
    "staff holding `deliveries:read` all; ordered by priority, then when due.",
    **policy("authenticated"),
)
async def list_deliveries(
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: StorageDep,
    query: Annotated[schemas.DeliveryQuery, Query()],
) -> Page[schemas.DeliveryRead]:
    return await visibility.list_deliveries(session, principal, query, storage)


@deliveries_router.get(
    "/deliveries/{delivery_id}",
    response_model=schemas.DeliveryRead,
    summary="A delivery, as the caller may see it",
    description="Its agent, its shop's managers, its customer (state and agent's first name "
    "only) and staff; anyone else gets a 404.",
    **policy("owner"),
)
async def get_delivery(
    delivery_id: DeliveryId, session: SessionDep, principal: CurrentPrincipal, storage: StorageDep
) -> schemas.DeliveryRead:
    return await visibility.get_delivery(session, principal, delivery_id, storage)


async def _agent_answer(
    session: SessionDep, delivery: Any, storage: StorageDep
) -> schemas.DeliveryRead:
    return await visibility.read(session, delivery, visibility.AGENT, storage)


async def _staff_answer(
    session: SessionDep, delivery: Any, storage: StorageDep
) -> schemas.DeliveryRead:
    return await visibility.read(session, delivery, visibility.STAFF, storage)


@_agent_move("start", "Set off with a delivery (the customer is told the estimated arrival)")
async def start_delivery(
    delivery_id: DeliveryId,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    storage: StorageDep,
    body: schemas.DeliveryStart | None = None,
) -> schemas.DeliveryRead:
    delivery = await moves.start(
        session,
        principal,
        delivery_id,
        body or schemas.DeliveryStart(),
        default_eta=await business.value(
            session, business.DELIVERY_DEFAULT_ETA, app_settings(request)
        ),
        meta=meta,
    )
    return await _agent_answer(session, delivery, storage)


@_agent_move(
    "complete",
    "Close a delivery with the customer's code (`Idempotency-Key` required)",
    " A wrong code is a 400 `wrong_code` with `tries_left`; the fifth locks the code (409 "
    "`code_locked`, staff alerted). A cash order's money is recorded.",
)
async def complete_delivery(
    delivery_id: DeliveryId,
    body: schemas.DeliveryComplete,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    storage: StorageDep,
    once: OnceDep,
) -> JSONResponse:
    secret_key: str = request.app.state.secret_key
    code_ttl = await business.value(session, business.DELIVERY_CODE_TTL, app_settings(request))

    async def complete() -> schemas.DeliveryRead:
        delivery = await closing.complete(
            session,
            principal,
            delivery_id,
            body.code,
            secret_key=secret_key,
            code_ttl=code_ttl,
            meta=meta,
        )
        return await _agent_answer(session, delivery, storage)

    return await once(principal, body, produce=complete, answer=schemas.DeliveryRead)


@_agent_move(
    "proof",
    "Attach a proof photo or the customer's signature (upload or media key)",
    " `kind` is `photo` (default) or `signature`.",
    responses={
        400: {"description": "Unknown media key"},
        413: {"description": "File or image too large"},
        415: {"description": "Not a JPEG, PNG or WebP image (or neither multipart nor JSON)"},
        429: {"description": "Too many uploads by this user in the last minute"},
    },
    openapi_extra=intake.upload_body(),
)
async def add_proof(
    delivery_id: DeliveryId,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    storage: StorageDep,
    kind: schemas.ProofKind = schemas.ProofKind.PHOTO,
) -> schemas.DeliveryRead:
    # Refuse callers who may not act on this delivery before taking in an upload.
    await proofs.ensure_agent(session, principal, delivery_id)
    key = await intake.image_key(request, session, storage, principal, purpose="delivery_proof")
    delivery = await proofs.add_proof(session, principal, delivery_id, kind, key, meta=meta)
    return await _agent_answer(session, delivery, storage)


@_agent_move(
    "fail",
    "Report a failed attempt (customer absent, refused, address wrong)",
    " A refusal puts the goods back on the shop's shelf.",
)
async def fail_delivery(
    delivery_id: DeliveryId,
    body: schemas.DeliveryFail,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    storage: StorageDep,
) -> schemas.DeliveryRead:
    delivery = await moves.fail(session, principal, delivery_id, body, meta=meta)
    return await _agent_answer(session, delivery, storage)


@_staff_move(
    "reschedule", "Reschedule a delivery (time, agent, priority); a failed one is assigned again"
)
async def reschedule_delivery(
    delivery_id: DeliveryId,
    body: schemas.DeliveryReschedule,
    session: SessionDep,
    principal: DeliveryWriter,
    meta: RequestMetaDep,
    storage: StorageDep,
) -> schemas.DeliveryRead:
    delivery = await moves.reschedule(session, principal, delivery_id, body, meta=meta)
    return await _staff_answer(session, delivery, storage)


@_staff_move("cancel", "Call off a delivery not under way (a failed one's goods go back)")
async def cancel_delivery(
    delivery_id: DeliveryId,
    session: SessionDep,
    principal: DeliveryWriter,
    meta: RequestMetaDep,
    storage: StorageDep,
    body: schemas.DeliveryCancel | None = None,
) -> schemas.DeliveryRead:
    delivery = await moves.cancel(
        session, principal, delivery_id, body or schemas.DeliveryCancel(), meta=meta
    )
    return await _staff_answer(session, delivery, storage)


@_staff_move(
    "reissue-code", "Issue a new closing code (the old one stops working; tries start again)"
)
async def reissue_code(
    delivery_id: DeliveryId,
    session: SessionDep,
    principal: DeliveryWriter,
    meta: RequestMetaDep,
    storage: StorageDep,
) -> schemas.DeliveryRead:
    delivery = await closing.reissue_code(session, principal, delivery_id, meta=meta)
    return await _staff_answer(session, delivery, storage)
