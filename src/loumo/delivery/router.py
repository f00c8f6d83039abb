"""HTTP routes of delivery: agents, deliveries, closing codes, proofs, the agents' day."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import JSONResponse

from loumo.audit.deps import RequestMetaDep
from loumo.content import settings as business
from loumo.core.auth import CurrentPrincipal, Principal, require
from loumo.core.db import SessionDep
from loumo.core.idempotency import IdempotencyKeyHeader, idempotent
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.responses import no_content
from loumo.core.settings import Settings
from loumo.delivery import (
    AGENTS_READ,
    AGENTS_WRITE,
    DELIVERIES_WRITE,
    agents,
    deliveries,
    dispatch,
)
from loumo.delivery.schemas import (
    AgentCreate,
    AgentQuery,
    AgentRead,
    AgentSummary,
    AgentUpdate,
    AvailabilityUpdate,
    CashHandInCreate,
    CashHandInRead,
    DeliveryCancel,
    DeliveryCode,
    DeliveryComplete,
    DeliveryCreate,
    DeliveryFail,
    DeliveryQuery,
    DeliveryRead,
    DeliveryReschedule,
    DeliveryStart,
    ProofKind,
    SummaryQuery,
)
from loumo.media import intake
from loumo.media.dependencies import StorageDep

router = APIRouter(tags=["delivery"])
AgentId = Annotated[str, Path(min_length=1, max_length=32, description="An agent id")]
DeliveryId = Annotated[str, Path(min_length=1, max_length=32, description="A delivery id")]
OrderId = Annotated[str, Path(min_length=1, max_length=32, description="An order id")]
AgentReader = Annotated[Principal, Depends(require(AGENTS_READ))]
AgentWriter = Annotated[Principal, Depends(require(AGENTS_WRITE))]
DeliveryWriter = Annotated[Principal, Depends(require(DELIVERIES_WRITE))]

AGENT_ONLY = (
    "Only the agent the delivery is assigned to; a delivery the caller cannot see is a 404, "
    "one they see but do not carry a 403."
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# --- agents -------------------------------------------------------------------------------------


@router.get(
    "/agents",
    response_model=Page[AgentRead],
    summary="Delivery agents, by id (filter by zone or availability)",
    **policy(f"permission:{AGENTS_READ}"),
)
async def list_agents(
    session: SessionDep, _: AgentReader, query: Annotated[AgentQuery, Query()]
) -> Page[AgentRead]:
    return await agents.list_agents(session, query)


@router.post(
    "/agents",
    response_model=AgentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Make a user a delivery agent (zones served, capacity)",
    **policy(f"permission:{AGENTS_WRITE}"),
)
async def create_agent(
    body: AgentCreate, session: SessionDep, principal: AgentWriter, meta: RequestMetaDep
) -> AgentRead:
    return await agents.create_agent(session, principal, body, meta=meta)


@router.get(
    "/agents/me",
    response_model=AgentRead,
    summary="Your own agent profile",
    description="A caller without an agent profile gets a 404.",
    **policy("owner"),
)
async def my_agent_profile(session: SessionDep, principal: CurrentPrincipal) -> AgentRead:
    return await agents.my_profile(session, principal)


@router.patch(
    "/agents/me",
    response_model=AgentRead,
    summary="Set your own availability",
    description="A caller without an agent profile gets a 404.",
    **policy("owner"),
)
async def set_my_availability(
    body: AvailabilityUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
) -> AgentRead:
    return await agents.set_my_availability(session, principal, body, meta=meta)


@router.get(
    "/agents/{agent_id}",
    response_model=AgentRead,
    summary="A delivery agent",
    **policy(f"permission:{AGENTS_READ}"),
)
async def get_agent(agent_id: AgentId, session: SessionDep, _: AgentReader) -> AgentRead:
    return await agents.get_agent(session, agent_id)


@router.patch(
    "/agents/{agent_id}",
    response_model=AgentRead,
    summary="Change an agent's zones, capacity, availability or notes",
    **policy(f"permission:{AGENTS_WRITE}"),
)
async def update_agent(
    agent_id: AgentId,
    body: AgentUpdate,
    session: SessionDep,
    principal: AgentWriter,
    meta: RequestMetaDep,
) -> AgentRead:
    return await agents.update_agent(session, principal, agent_id, body, meta=meta)


@router.delete(
    "/agents/{agent_id}",
    summary="Remove an agent without deliveries",
    **no_content(),
    **policy(f"permission:{AGENTS_WRITE}"),
)
async def delete_agent(
    agent_id: AgentId, session: SessionDep, principal: AgentWriter, meta: RequestMetaDep
) -> None:
    await agents.delete_agent(session, principal, agent_id, meta=meta)


@router.get(
    "/agents/{agent_id}/summary",
    response_model=AgentSummary,
    summary="An agent's day: deliveries done and failed, cash collected and still owed",
    **policy(f"permission:{AGENTS_READ}"),
)
async def agent_summary(
    agent_id: AgentId,
    session: SessionDep,
    _: AgentReader,
    query: Annotated[SummaryQuery, Query()],
) -> AgentSummary:
    return await agents.summary(session, agent_id, query.day)


@router.post(
    "/agents/{agent_id}/cash-handins",
    response_model=CashHandInRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record cash an agent handed in (`Idempotency-Key` required)",
    **policy(f"permission:{AGENTS_WRITE}"),
)
async def record_hand_in(
    agent_id: AgentId,
    body: CashHandInCreate,
    request: Request,
    session: SessionDep,
    principal: AgentWriter,
    meta: RequestMetaDep,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    async def work() -> tuple[int, Any]:
        read = await agents.record_hand_in(session, principal, agent_id, body, meta=meta)
        return 201, read.model_dump(mode="json")

    return await idempotent(
        request,
        session,
        principal_id=principal.user_id,
        key=key,
        body={"agent_id": agent_id, **body.model_dump(mode="json")},
        work=work,
    )


# --- deliveries ---------------------------------------------------------------------------------


@router.post(
    "/orders/{order_id}/deliveries",
    response_model=DeliveryRead,
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
    body: DeliveryCreate,
    session: SessionDep,
    principal: DeliveryWriter,
    meta: RequestMetaDep,
    storage: StorageDep,
) -> DeliveryRead:
    delivery = await dispatch.assign(session, principal, order_id, body, meta=meta)
    return await deliveries.read(session, delivery, deliveries.STAFF, storage)


@router.get(
    "/orders/{order_id}/delivery-code",
    response_model=Page[DeliveryCode],
    summary="The closing code of your own order while it is out for delivery",
    description="One code per shop's delivery under way. Any other order, or an order with "
    "nothing out, is a 404.",
    **policy("owner"),
)
async def delivery_code(
    order_id: OrderId, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Page[DeliveryCode]:
    return await deliveries.delivery_codes(
        session,
        principal,
        order_id,
        secret_key=request.app.state.secret_key,
        code_ttl=await business.value(session, business.DELIVERY_CODE_TTL, _settings(request)),
    )


@router.get(
    "/deliveries",
    response_model=Page[DeliveryRead],
    summary="Deliveries the caller may see, most urgent first (`mine=1` for an agent's own)",
    description="Agents see their own, shop managers their shops', customers their orders', "
    "staff holding `deliveries:read` all; ordered by priority, then when due.",
    **policy("authenticated"),
)
async def list_deliveries(
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: StorageDep,
    query: Annotated[DeliveryQuery, Query()],
) -> Page[DeliveryRead]:
    return await deliveries.list_deliveries(session, principal, query, storage)


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryRead,
    summary="A delivery, as the caller may see it",
    description="Its agent, its shop's managers, its customer (state and agent's first name "
    "only) and staff; anyone else gets a 404.",
    **policy("owner"),
)
async def get_delivery(
    delivery_id: DeliveryId, session: SessionDep, principal: CurrentPrincipal, storage: StorageDep
) -> DeliveryRead:
    return await deliveries.get_delivery(session, principal, delivery_id, storage)


async def _agent_answer(session: SessionDep, delivery: Any, storage: StorageDep) -> DeliveryRead:
    return await deliveries.read(session, delivery, deliveries.AGENT, storage)


@router.post(
    "/deliveries/{delivery_id}/start",
    response_model=DeliveryRead,
    summary="Set off with a delivery (the customer is told the estimated arrival)",
    description=AGENT_ONLY,
    **policy("owner"),
)
async def start_delivery(
    delivery_id: DeliveryId,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    storage: StorageDep,
    body: DeliveryStart | None = None,
) -> DeliveryRead:
    delivery = await deliveries.start(
        session,
        principal,
        delivery_id,
        body or DeliveryStart(),
        default_eta=await business.value(
            session, business.DELIVERY_DEFAULT_ETA, _settings(request)
        ),
        meta=meta,
    )
    return await _agent_answer(session, delivery, storage)


@router.post(
    "/deliveries/{delivery_id}/complete",
    response_model=DeliveryRead,
    summary="Close a delivery with the customer's code (`Idempotency-Key` required)",
    description=AGENT_ONLY + " A wrong code is a 400 `wrong_code` with `tries_left`; the fifth "
    "locks the code (409 `code_locked`, staff alerted). A cash order's money is recorded.",
    **policy("owner"),
)
async def complete_delivery(
    delivery_id: DeliveryId,
    body: DeliveryComplete,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    storage: StorageDep,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    secret_key: str = request.app.state.secret_key
    code_ttl = await business.value(session, business.DELIVERY_CODE_TTL, _settings(request))
    # A wrong code is counted and refused before the key is claimed: the count must commit.
    await deliveries.check_code(
        session,
        principal,
        delivery_id,
        body.code,
        secret_key=secret_key,
        code_ttl=code_ttl,
        meta=meta,
    )

    async def work() -> tuple[int, Any]:
        delivery = await deliveries.complete(
            session,
            principal,
            delivery_id,
            body.code,
            secret_key=secret_key,
            code_ttl=code_ttl,
            meta=meta,
        )
        read = await _agent_answer(session, delivery, storage)
        return 200, read.model_dump(mode="json")

    return await idempotent(
        request,
        session,
        principal_id=principal.user_id,
        key=key,
        body={"delivery_id": delivery_id, **body.model_dump(mode="json")},
        work=work,
    )


@router.post(
    "/deliveries/{delivery_id}/proof",
    response_model=DeliveryRead,
    summary="Attach a proof photo or the customer's signature (upload or media key)",
    description=AGENT_ONLY + " `kind` is `photo` (default) or `signature`.",
    responses={
        400: {"description": "Unknown media key"},
        413: {"description": "File or image too large"},
        415: {"description": "Not a JPEG, PNG or WebP image (or neither multipart nor JSON)"},
        429: {"description": "Too many uploads by this user in the last minute"},
    },
    openapi_extra={**intake.upload_body(), **policy("owner")["openapi_extra"]},
)
async def add_proof(
    delivery_id: DeliveryId,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    storage: StorageDep,
    kind: ProofKind = ProofKind.PHOTO,
) -> DeliveryRead:
    # Refuse callers who may not act on this delivery before taking in an upload.
    await deliveries.ensure_agent(session, principal, delivery_id)
    key = await intake.image_key(request, session, storage, principal, purpose="delivery_proof")
    delivery = await deliveries.add_proof(session, principal, delivery_id, kind, key, meta=meta)
    return await _agent_answer(session, delivery, storage)


@router.post(
    "/deliveries/{delivery_id}/fail",
    response_model=DeliveryRead,
    summary="Report a failed attempt (customer absent, refused, address wrong)",
    description=AGENT_ONLY + " A refusal puts the goods back on the shop's shelf.",
    **policy("owner"),
)
async def fail_delivery(
    delivery_id: DeliveryId,
    body: DeliveryFail,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    storage: StorageDep,
) -> DeliveryRead:
    delivery = await deliveries.fail(session, principal, delivery_id, body, meta=meta)
    return await _agent_answer(session, delivery, storage)


@router.post(
    "/deliveries/{delivery_id}/reschedule",
    response_model=DeliveryRead,
    summary="Reschedule a delivery (time, agent, priority); a failed one is assigned again",
    **policy(f"permission:{DELIVERIES_WRITE}"),
)
async def reschedule_delivery(
    delivery_id: DeliveryId,
    body: DeliveryReschedule,
    session: SessionDep,
    principal: DeliveryWriter,
    meta: RequestMetaDep,
    storage: StorageDep,
) -> DeliveryRead:
    delivery = await deliveries.reschedule(session, principal, delivery_id, body, meta=meta)
    return await deliveries.read(session, delivery, deliveries.STAFF, storage)


@router.post(
    "/deliveries/{delivery_id}/cancel",
    response_model=DeliveryRead,
    summary="Call off a delivery not under way (a failed one's goods go back)",
    **policy(f"permission:{DELIVERIES_WRITE}"),
)
async def cancel_delivery(
    delivery_id: DeliveryId,
    session: SessionDep,
    principal: DeliveryWriter,
    meta: RequestMetaDep,
    storage: StorageDep,
    body: DeliveryCancel | None = None,
) -> DeliveryRead:
    delivery = await deliveries.cancel(
        session, principal, delivery_id, body or DeliveryCancel(), meta=meta
    )
    return await deliveries.read(session, delivery, deliveries.STAFF, storage)


@router.post(
    "/deliveries/{delivery_id}/reissue-code",
    response_model=DeliveryRead,
    summary="Issue a new closing code (the old one stops working; tries start again)",
    **policy(f"permission:{DELIVERIES_WRITE}"),
)
async def reissue_code(
    delivery_id: DeliveryId,
    session: SessionDep,
    principal: DeliveryWriter,
    meta: RequestMetaDep,
    storage: StorageDep,
) -> DeliveryRead:
    delivery = await deliveries.reissue_code(session, principal, delivery_id, meta=meta)
    return await deliveries.read(session, delivery, deliveries.STAFF, storage)
