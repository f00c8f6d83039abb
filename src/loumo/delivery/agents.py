"""Delivery agents: staff manage them (`/agents`), an agent reads and sets their own
availability (`/agents/me`); the daily summary and the cash an agent hands in to staff."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User, UserRole
from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import flush_or_conflict, utcnow
from loumo.core.json_sql import list_contains
from loumo.core.lookup import get_or_raise
from loumo.core.pagination import Page, cut_page, id_after, id_cursor
from loumo.core.permissions import DELIVERY_AGENT
from loumo.delivery.dispatch import LIVE
from loumo.delivery.errors import (
    AgentBusy,
    AgentNotFound,
    AlreadyAnAgent,
    UnknownUser,
)
from loumo.delivery.models import CashHandIn, Delivery, DeliveryAgent
from loumo.delivery.schemas import (
    AgentCreate,
    AgentQuery,
    AgentRead,
    AgentSummary,
    AgentUpdate,
    AvailabilityUpdate,
    CashHandInCreate,
    CashHandInRead,
    DeliveryStatus,
)
from loumo.delivery.visibility import agent_of
from loumo.zones import service as zones


async def _read(session: AsyncSession, agent: DeliveryAgent) -> AgentRead:
    name = await session.scalar(select(User.name).where(User.id == agent.user_id)) or ""
    return AgentRead.model_validate(
        {**{c.key: getattr(agent, c.key) for c in DeliveryAgent.__table__.columns}, "name": name}
    )


async def _get(session: AsyncSession, agent_id: str) -> DeliveryAgent:
    return await get_or_raise(
        session, DeliveryAgent, agent_id, AgentNotFound(f"No agent {agent_id}")
    )


async def _audit(
    session: AsyncSession,
    meta: RequestMeta,
    principal: Principal,
    action: str,
    agent: DeliveryAgent,
    **diff: Any,
) -> None:
    await audit.record(
        session,
        meta,
        action,
        actor_id=principal.user_id,
        entity_type="delivery_agent",
        entity_id=agent.id,
        diff={"user_id": agent.user_id, **diff},
    )


async def list_agents(session: AsyncSession, query: AgentQuery) -> Page[AgentRead]:
    stmt = select(DeliveryAgent).order_by(DeliveryAgent.id).limit(query.limit + 1)
    if query.available is not None:
        stmt = stmt.where(DeliveryAgent.available.is_(query.available))
    if query.zone_id is not None:
        stmt = stmt.where(list_contains(DeliveryAgent.zone_ids, query.zone_id))
    if query.cursor:
        stmt = stmt.where(DeliveryAgent.id > id_after(query.cursor, "agents"))
    rows, next_cursor = cut_page(
        list(await session.scalars(stmt)), query.limit, lambda a: id_cursor("agents", a.id)
    )
    return Page(items=[await _read(session, a) for a in rows], next_cursor=next_cursor)


async def get_agent(session: AsyncSession, agent_id: str) -> AgentRead:
    return await _read(session, await _get(session, agent_id))


async def create_agent(
    session: AsyncSession, body: AgentCreate, *, actor: Principal, meta: RequestMeta
) -> AgentRead:
    """An agent profile for a user, who gets the `delivery_agent` role if they lack it."""
    user = await session.get(User, body.user_id)
    if user is None:
        raise UnknownUser(f"No user {body.user_id}", field="user_id")
    if await session.scalar(select(DeliveryAgent.id).where(DeliveryAgent.user_id == user.id)):
        raise AlreadyAnAgent("This user already has an agent profile", field="user_id")
    agent = DeliveryAgent(
        **body.model_dump(exclude={"zone_ids"}),
        zone_ids=await zones.check_zones(session, body.zone_ids, field="zone_ids"),
    )
    session.add(agent)
    await flush_or_conflict(
        session, "This user already has an agent profile", field="user_id", error=AlreadyAnAgent
    )
    has_role = await session.scalar(
        select(UserRole.role).where(UserRole.user_id == user.id, UserRole.role == DELIVERY_AGENT)
    )
    if has_role is None:
        session.add(UserRole(user_id=user.id, role=DELIVERY_AGENT))
        await session.flush()
    await _audit(session, meta, actor, "agent.create", agent, zone_ids=agent.zone_ids)
    return await _read(session, agent)


async def update_agent(
    session: AsyncSession, agent_id: str, body: AgentUpdate, *, actor: Principal, meta: RequestMeta
) -> AgentRead:
    agent = await _get(session, agent_id)
    changes = body.model_dump(exclude_unset=True)
    if "zone_ids" in changes:
        changes["zone_ids"] = await zones.check_zones(
            session, changes["zone_ids"], field="zone_ids"
        )
    before = {k: getattr(agent, k) for k in changes}
    for key, value in changes.items():
        setattr(agent, key, value)
    agent.updated_at = utcnow()
    await session.flush()
    await _audit(session, meta, actor, "agent.update", agent, **audit.changes(before, changes))
    return await _read(session, agent)


async def delete_agent(
    session: AsyncSession, agent_id: str, *, actor: Principal, meta: RequestMeta
) -> None:
    """Remove an agent's profile; one who carries deliveries or has any history is kept
    (409: make them unavailable instead)."""
    agent = await _get(session, agent_id)
    used = await session.scalar(select(Delivery.id).where(Delivery.agent_id == agent.id).limit(1))
    handed = await session.scalar(
        select(CashHandIn.id).where(CashHandIn.agent_id == agent.id).limit(1)
    )
    if used is not None or handed is not None or agent.active:
        raise AgentBusy("This agent has deliveries: make them unavailable instead")
    await _audit(session, meta, actor, "agent.delete", agent)
    await session.delete(agent)
    await session.flush()


async def _own(session: AsyncSession, principal: Principal) -> DeliveryAgent:
    agent = await agent_of(session, principal)
    if agent is None:
        raise AgentNotFound("You have no agent profile")
    return agent


async def my_profile(session: AsyncSession, principal: Principal) -> AgentRead:
    return await _read(session, await _own(session, principal))


async def set_my_availability(
    session: AsyncSession, principal: Principal, body: AvailabilityUpdate, *, meta: RequestMeta
) -> AgentRead:
    agent = await _own(session, principal)
    if body.available is not None and body.available != agent.available:
        agent.available = body.available
        agent.updated_at = utcnow()
        await session.flush()
        await _audit(
            session, meta, principal, "agent.availability", agent, available=body.available
        )
    return await _read(session, agent)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


async def summary(session: AsyncSession, agent_id: str, day: date | None) -> AgentSummary:
    """The agent's day (UTC): deliveries done and failed, cash collected and handed in, and
    what they still owe (everything collected minus everything handed in)."""
    agent = await _get(session, agent_id)
    day = day or utcnow().date()
    start, end = _day_bounds(day)

    async def count(status: str, column: Any) -> int:
        value = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.agent_id == agent.id, Delivery.status == status)
            .where(column >= start, column < end)
        )
        return int(value or 0)

    collected_today = await session.scalar(
        select(func.coalesce(func.sum(Delivery.cash_collected), 0)).where(
            Delivery.agent_id == agent.id,
            Delivery.status == DeliveryStatus.DELIVERED,
            Delivery.delivered_at >= start,
            Delivery.delivered_at < end,
        )
    )
    handed_today = await session.scalar(
        select(func.coalesce(func.sum(CashHandIn.amount), 0)).where(
            CashHandIn.agent_id == agent.id,
            CashHandIn.created_at >= start,
            CashHandIn.created_at < end,
        )
    )
    collected = await session.scalar(
        select(func.coalesce(func.sum(Delivery.cash_collected), 0)).where(
            Delivery.agent_id == agent.id, Delivery.status == DeliveryStatus.DELIVERED
        )
    )
    handed = await session.scalar(
        select(func.coalesce(func.sum(CashHandIn.amount), 0)).where(CashHandIn.agent_id == agent.id)
    )
    carrying = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.agent_id == agent.id, Delivery.status.in_(LIVE))
    )
    currency = (
        await session.scalar(
            select(Delivery.currency).where(Delivery.agent_id == agent.id).limit(1)
        )
        or "XAF"
    )
    return AgentSummary(
        agent_id=agent.id,
        day=day,
        currency=currency,
        assigned=int(carrying or 0),
        delivered=await count(DeliveryStatus.DELIVERED, Delivery.delivered_at),
        failed=await count(DeliveryStatus.FAILED, Delivery.failed_at),
        cash_collected=int(collected_today or 0),
        cash_handed_in=int(handed_today or 0),
        cash_owed=int(collected or 0) - int(handed or 0),
    )


async def record_hand_in(
    session: AsyncSession,
    principal: Principal,
    agent_id: str,
    body: CashHandInCreate,
    *,
    meta: RequestMeta,
) -> CashHandInRead:
    """Staff record cash an agent handed in (audited)."""
    agent = await _get(session, agent_id)
    hand_in = CashHandIn(agent_id=agent.id, received_by=principal.user_id, **body.model_dump())
    session.add(hand_in)
    await session.flush()
    await _audit(
        session,
        meta,
        principal,
        "agent.cash_hand_in",
        agent,
        amount=body.amount,
        currency=body.currency,
    )
    return CashHandInRead.model_validate(hand_in)
