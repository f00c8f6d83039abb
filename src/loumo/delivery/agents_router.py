"""HTTP routes of delivery agents: staff manage them (`/agents`), an agent reads and sets
their own profile (`/agents/me`), the agent's day and the cash they hand in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import JSONResponse

from loumo.audit.deps import RequestMetaDep
from loumo.core.auth import CurrentPrincipal, Principal, require
from loumo.core.crud import CrudRoutes
from loumo.core.db import SessionDep
from loumo.core.idempotency import OnceDep
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.delivery import AGENTS_READ, AGENTS_WRITE, agents, schemas

agents_router = APIRouter(tags=["delivery"])
AgentId = Annotated[str, Path(min_length=1, max_length=32, description="An agent id")]
AgentReader = Annotated[Principal, Depends(require(AGENTS_READ))]
AgentWriter = Annotated[Principal, Depends(require(AGENTS_WRITE))]
READ_POLICY = f"permission:{AGENTS_READ}"
OWN_PROFILE: dict[str, Any] = {
    "response_model": schemas.AgentRead,
    "description": "A caller without an agent profile gets a 404.",
    **policy("owner"),
}
# `keywords=` of a change to an agent: the service audits who made it (the caller the route's
# policy admitted) and from where.
AUDITED = {"actor": CurrentPrincipal, "meta": RequestMetaDep}
agent_routes = CrudRoutes(
    agents_router,
    "/agents/{agent_id}",
    schemas.AgentRead,
    id=AgentId,
    policy=f"permission:{AGENTS_WRITE}",
)


@agents_router.get(
    "/agents",
    response_model=Page[schemas.AgentRead],
    summary="Delivery agents, by id (filter by zone or availability)",
    **policy(READ_POLICY),
)
async def list_agents(
    session: SessionDep, _: AgentReader, query: Annotated[schemas.AgentQuery, Query()]
) -> Page[schemas.AgentRead]:
    return await agents.list_agents(session, query)


agent_routes.create(
    agents.create_agent,
    schemas.AgentCreate,
    summary="Make a user a delivery agent (zones served, capacity)",
    keywords=AUDITED,
)


# The caller's own profile comes before `/agents/{agent_id}`: "me" is not an agent id.
@agents_router.get("/agents/me", summary="Your own agent profile", **OWN_PROFILE)
async def my_agent_profile(session: SessionDep, principal: CurrentPrincipal) -> schemas.AgentRead:
    return await agents.my_profile(session, principal)


@agents_router.patch("/agents/me", summary="Set your own availability", **OWN_PROFILE)
async def set_my_availability(
    body: schemas.AvailabilityUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
) -> schemas.AgentRead:
    return await agents.set_my_availability(session, principal, body, meta=meta)


agent_routes.get(agents.get_agent, summary="A delivery agent", policy=READ_POLICY)
agent_routes.update(
    agents.update_agent,
    schemas.AgentUpdate,
    summary="Change an agent's zones, capacity, availability or notes",
    keywords=AUDITED,
)
agent_routes.delete(
    agents.delete_agent, summary="Remove an agent without deliveries", keywords=AUDITED
)


@agents_router.get(
    "/agents/{agent_id}/summary",
    response_model=schemas.AgentSummary,
    summary="An agent's day: deliveries done and failed, cash collected and still owed",
    **policy(READ_POLICY),
)
async def agent_summary(
    agent_id: AgentId,
    session: SessionDep,
    _: AgentReader,
    query: Annotated[schemas.SummaryQuery, Query()],
) -> schemas.AgentSummary:
    return await agents.summary(session, agent_id, query.day)


@agents_router.post(
    "/agents/{agent_id}/cash-handins",
    response_model=schemas.CashHandInRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record cash an agent handed in (`Idempotency-Key` required)",
    **policy(f"permission:{AGENTS_WRITE}"),
)
async def record_hand_in(
    agent_id: AgentId,
    body: schemas.CashHandInCreate,
    session: SessionDep,
    principal: AgentWriter,
    meta: RequestMetaDep,
    once: OnceDep,
) -> JSONResponse:
    return await once(
        principal,
        body,
        produce=lambda: agents.record_hand_in(session, principal, agent_id, body, meta=meta),
        answer=schemas.CashHandInRead,
        status=status.HTTP_201_CREATED,
    )
