"""HTTP routes of delivery agents: staff manage them (`/agents`), an agent reads and sets
their own profile (`/agents/me`), the agent's day and the cash they hand in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import JSONResponse

from loumo.audit.deps import RequestMetaDep
from loumo.core.auth import CurrentPrincipal, Principal, require
from loumo.core.db import SessionDep
from loumo.core.idempotency import IdempotencyKeyHeader, answer_once
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.responses import no_content
from loumo.delivery import (
    AGENTS_READ,
    AGENTS_WRITE,
    agents,
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
    SummaryQuery,
)

agents_router = APIRouter(tags=["delivery"])
AgentId = Annotated[str, Path(min_length=1, max_length=32, description="An agent id")]
AgentReader = Annotated[Principal, Depends(require(AGENTS_READ))]
AgentWriter = Annotated[Principal, Depends(require(AGENTS_WRITE))]
# What the routes declare besides path and summary: staff reading or managing agents, and an
# agent's own profile.
READ_AGENTS = policy(f"permission:{AGENTS_READ}")
MANAGE_AGENTS = policy(f"permission:{AGENTS_WRITE}")
OWN_PROFILE: dict[str, Any] = {
    "response_model": AgentRead,
    "description": "A caller without an agent profile gets a 404.",
    **policy("owner"),
}


@agents_router.get(
    "/agents",
    response_model=Page[AgentRead],
    summary="Delivery agents, by id (filter by zone or availability)",
    **READ_AGENTS,
)
async def list_agents(
    session: SessionDep, _: AgentReader, query: Annotated[AgentQuery, Query()]
) -> Page[AgentRead]:
    return await agents.list_agents(session, query)


@agents_router.post(
    "/agents",
    response_model=AgentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Make a user a delivery agent (zones served, capacity)",
    **MANAGE_AGENTS,
)
async def create_agent(
    body: AgentCreate, session: SessionDep, principal: AgentWriter, meta: RequestMetaDep
) -> AgentRead:
    return await agents.create_agent(session, principal, body, meta=meta)


@agents_router.get("/agents/me", summary="Your own agent profile", **OWN_PROFILE)
async def my_agent_profile(session: SessionDep, principal: CurrentPrincipal) -> AgentRead:
    return await agents.my_profile(session, principal)


@agents_router.patch("/agents/me", summary="Set your own availability", **OWN_PROFILE)
async def set_my_availability(
    body: AvailabilityUpdate, session: SessionDep, principal: CurrentPrincipal, meta: RequestMetaDep
) -> AgentRead:
    return await agents.set_my_availability(session, principal, body, meta=meta)


@agents_router.get(
    "/agents/{agent_id}", response_model=AgentRead, summary="A delivery agent", **READ_AGENTS
)
async def get_agent(agent_id: AgentId, session: SessionDep, _: AgentReader) -> AgentRead:
    return await agents.get_agent(session, agent_id)


@agents_router.patch(
    "/agents/{agent_id}",
    response_model=AgentRead,
    summary="Change an agent's zones, capacity, availability or notes",
    **MANAGE_AGENTS,
)
async def update_agent(
    agent_id: AgentId,
    body: AgentUpdate,
    session: SessionDep,
    principal: AgentWriter,
    meta: RequestMetaDep,
) -> AgentRead:
    return await agents.update_agent(session, principal, agent_id, body, meta=meta)


@agents_router.delete(
    "/agents/{agent_id}",
    summary="Remove an agent without deliveries",
    **no_content(),
    **MANAGE_AGENTS,
)
async def delete_agent(
    agent_id: AgentId, session: SessionDep, principal: AgentWriter, meta: RequestMetaDep
) -> None:
    await agents.delete_agent(session, principal, agent_id, meta=meta)


@agents_router.get(
    "/agents/{agent_id}/summary",
    response_model=AgentSummary,
    summary="An agent's day: deliveries done and failed, cash collected and still owed",
    **READ_AGENTS,
)
async def agent_summary(
    agent_id: AgentId, session: SessionDep, _: AgentReader, query: Annotated[SummaryQuery, Query()]
) -> AgentSummary:
    return await agents.summary(session, agent_id, query.day)


@agents_router.post(
    "/agents/{agent_id}/cash-handins",
    response_model=CashHandInRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record cash an agent handed in (`Idempotency-Key` required)",
    **MANAGE_AGENTS,
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
    return await answer_once(
        request,
        session,
        principal,
        key,
        body={"agent_id": agent_id, **body.model_dump(mode="json")},
        produce=lambda: agents.record_hand_in(session, principal, agent_id, body, meta=meta),
        answer=CashHandInRead,
        status=status.HTTP_201_CREATED,
    )
