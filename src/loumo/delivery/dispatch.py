"""Assigning a ready fulfilment to an agent, by staff or by the assignment job.

Capacity is taken by one conditional UPDATE on the agent's row (`active < max_deliveries`, and
available): PostgreSQL re-checks the condition on the row as committed by any concurrent
assignment (the row is locked for the rest of the transaction), SQLite runs one writer at a
time; either way `active` never passes `max_deliveries`, across any number of processes, and a
refused assignment is a clean 409. The fairest agent is the one carrying fewest deliveries,
then the one idle longest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import flush_or_conflict, utcnow
from loumo.core.json_sql import list_contains
from loumo.core.once import rows_changed, update_if
from loumo.delivery.errors import (
    AgentAtCapacity,
    AgentNotInZone,
    AlreadyAssigned,
    FulfilmentNotReady,
    FulfilmentRequired,
    NoAgentAvailable,
    UnknownAgent,
    UnknownFulfilment,
)
from loumo.delivery.models import Delivery, DeliveryAgent
from loumo.delivery.notices import tell_agent
from loumo.delivery.schemas import DeliveryCreate, DeliveryStatus
from loumo.orders.models import Fulfilment, Order
from loumo.orders.queries import fulfilment_items, fulfilments_of, load_order
from loumo.orders.states import FulfilmentStatus, OrderStatus

LIVE = (DeliveryStatus.ASSIGNED, DeliveryStatus.OUT_FOR_DELIVERY)


def delivery_diff(delivery: Delivery, **more: Any) -> dict[str, Any]:
    return {
        "order_id": delivery.order_id,
        "fulfilment_id": delivery.fulfilment_id,
        "agent_id": delivery.agent_id,
        "status": delivery.status,
        **more,
    }


async def audit_delivery(
    session: AsyncSession,
    meta: RequestMeta | None,
    actor_id: str | None,
    action: str,
    delivery: Delivery,
    **more: Any,
) -> None:
    """The audit entry of what someone did to a delivery (never its code)."""
    await audit.record(
        session,
        meta,
        action,
        actor_id=actor_id,
        entity_type="delivery",
        entity_id=delivery.id,
        diff=delivery_diff(delivery, **more),
    )


async def take_capacity(session: AsyncSession, agent_id: str) -> bool:
    """One unit of the agent's capacity, if they are available and under `max_deliveries`."""
    now = utcnow()
    taken = await rows_changed(
        session,
        update(DeliveryAgent)
        .where(
            DeliveryAgent.id == agent_id,
            DeliveryAgent.available.is_(True),
            DeliveryAgent.active < DeliveryAgent.max_deliveries,
        )
        .values(active=DeliveryAgent.active + 1, last_assigned_at=now, updated_at=now),
    )
    return taken == 1


async def release_capacity(session: AsyncSession, delivery: Delivery) -> None:
    """Give the delivery's unit of capacity back to its agent, once."""
    if not await update_if(
        session, delivery, Delivery.holds_capacity.is_(True), holds_capacity=False
    ):
        return
    await rows_changed(
        session,
        update(DeliveryAgent)
        .where(DeliveryAgent.id == delivery.agent_id, DeliveryAgent.active > 0)
        .values(active=DeliveryAgent.active - 1, updated_at=utcnow()),
    )


async def hold_capacity(session: AsyncSession, delivery: Delivery, agent_id: str) -> None:
    """A delivery (re)assigned to `agent_id` takes one unit of their capacity (409 when full)."""
    if not await take_capacity(session, agent_id):
        raise AgentAtCapacity("The agent is unavailable or carries as many deliveries as allowed")
    delivery.agent_id = agent_id
    delivery.holds_capacity = True


def serves(agent: DeliveryAgent, zone_id: str) -> bool:
    return zone_id in (agent.zone_ids or [])


async def candidates(session: AsyncSession, zone_id: str) -> list[DeliveryAgent]:
    """Available agents serving `zone_id` under capacity, fairest first."""
    rows = await session.scalars(
        select(DeliveryAgent)
        .where(
            DeliveryAgent.available.is_(True),
            DeliveryAgent.active < DeliveryAgent.max_deliveries,
            list_contains(DeliveryAgent.zone_ids, zone_id),
        )
        .order_by(
            DeliveryAgent.active,
            DeliveryAgent.last_assigned_at.asc().nulls_first(),
            DeliveryAgent.id,
        )
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def pick_agent(session: AsyncSession, zone_id: str) -> str | None:
    """Take capacity from the fairest agent who still has some; their id, or None."""
    for agent in await candidates(session, zone_id):
        if await take_capacity(session, agent.id):
            return agent.id
    return None


async def _named_agent(session: AsyncSession, agent_id: str, zone_id: str) -> str:
    agent = await session.get(DeliveryAgent, agent_id)
    if agent is None:
        raise UnknownAgent(f"No agent {agent_id}", field="agent_id")
    if not serves(agent, zone_id):
        raise AgentNotInZone("The agent does not serve the order's zone", field="agent_id")
    if not await take_capacity(session, agent.id):
        raise AgentAtCapacity("The agent is unavailable or carries as many deliveries as allowed")
    return agent.id


async def cash_due(session: AsyncSession, order: Order, fulfilment: Fulfilment) -> int:
    """What the agent collects for this fulfilment of a cash order (0 for a prepaid one): its
    lines net of discount and of what the shop was short, plus its delivery fee; the last
    fulfilment to close takes what is left of the order's total."""
    if order.payment_method != "cash":
        return 0
    drops = sum(item.refunded_amount for item in await fulfilment_items(session, fulfilment.id))
    return max(0, fulfilment.subtotal - fulfilment.discount + fulfilment.delivery_fee - drops)


async def _fulfilment_to_deliver(
    session: AsyncSession, order: Order, body: DeliveryCreate
) -> Fulfilment:
    fulfilments = await fulfilments_of(session, order.id)
    if body.fulfilment_id is not None:
        chosen = [f for f in fulfilments if f.id == body.fulfilment_id]
        field = "fulfilment_id"
    elif body.shop_id is not None:
        chosen = [f for f in fulfilments if f.shop_id == body.shop_id]
        field = "shop_id"
    else:
        chosen = [f for f in fulfilments if f.status == FulfilmentStatus.READY]
        if len(chosen) != 1 and len(fulfilments) > 1:
            raise FulfilmentRequired(
                "The order has several shops: name the fulfilment_id (or shop_id) to deliver",
                field="fulfilment_id",
            )
        chosen = chosen or fulfilments[:1]
        field = "fulfilment_id"
    if not chosen:
        raise UnknownFulfilment("No such fulfilment on this order", field=field)
    return chosen[0]


async def _check_deliverable(session: AsyncSession, order: Order, fulfilment: Fulfilment) -> None:
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.PENDING_PAYMENT):
        raise FulfilmentNotReady(f"The order is {order.status}")
    if fulfilment.status != FulfilmentStatus.READY:
        raise FulfilmentNotReady(
            f"The fulfilment is {fulfilment.status}; it is delivered once ready",
            status=fulfilment.status,
        )
    taken = await session.scalar(
        select(exists().where(Delivery.live_fulfilment_id == fulfilment.id))
    )
    if taken:
        raise AlreadyAssigned("This fulfilment already has a delivery")


async def create_delivery(
    session: AsyncSession,
    order: Order,
    fulfilment: Fulfilment,
    agent_id: str,
    *,
    priority: int,
    scheduled_at: datetime | None = None,
    assigned_by: str | None,
) -> Delivery:
    """The delivery row (capacity already taken for `agent_id`), and the agent told."""
    delivery = Delivery(
        order_id=order.id,
        fulfilment_id=fulfilment.id,
        live_fulfilment_id=fulfilment.id,
        shop_id=fulfilment.shop_id,
        zone_id=order.zone_id,
        agent_id=agent_id,
        status=DeliveryStatus.ASSIGNED.value,
        holds_capacity=True,
        priority=priority,
        scheduled_at=scheduled_at,
        due_at=scheduled_at or utcnow(),
        assigned_by=assigned_by,
        currency=order.currency,
        cash_due=await cash_due(session, order, fulfilment),
    )
    session.add(delivery)
    await flush_or_conflict(
        session, "This fulfilment already has a delivery", error=AlreadyAssigned
    )
    await tell_agent(session, delivery, order)
    return delivery


async def assign(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    body: DeliveryCreate,
    *,
    meta: RequestMeta,
) -> Delivery:
    """`POST /orders/{id}/deliveries` (staff): one ready fulfilment to the named agent (who must
    serve the order's zone) or to the fairest available one."""
    order = await load_order(session, order_id)
    fulfilment = await _fulfilment_to_deliver(session, order, body)
    await _check_deliverable(session, order, fulfilment)
    if body.agent_id is not None:
        agent_id = await _named_agent(session, body.agent_id, order.zone_id)
    else:
        picked = await pick_agent(session, order.zone_id)
        if picked is None:
            raise NoAgentAvailable("No available agent serves this zone under capacity")
        agent_id = picked
    delivery = await create_delivery(
        session,
        order,
        fulfilment,
        agent_id,
        priority=body.priority,
        scheduled_at=body.scheduled_at,
        assigned_by=principal.user_id,
    )
    await audit_delivery(session, meta, principal.user_id, "delivery.assign", delivery)
    return delivery


async def assign_ready(session: AsyncSession, *, batch: int = 100) -> int:
    """The assignment job's pass: every ready fulfilment without a delivery goes to the
    fairest agent of its zone who has room; returns how many were assigned."""
    rows = (
        await session.execute(
            select(Fulfilment, Order)
            .join(Order, Order.id == Fulfilment.order_id)
            .where(
                Fulfilment.status == FulfilmentStatus.READY,
                Order.status.not_in([OrderStatus.CANCELLED, OrderStatus.EXPIRED]),
                ~exists().where(Delivery.live_fulfilment_id == Fulfilment.id),
            )
            .order_by(Fulfilment.updated_at, Fulfilment.id)
            .limit(batch)
        )
    ).all()
    assigned = 0
    for fulfilment, order in rows:
        try:
            async with session.begin_nested():
                agent_id = await pick_agent(session, order.zone_id)
                if agent_id is None:
                    continue
                delivery = await create_delivery(
                    session, order, fulfilment, agent_id, priority=5, assigned_by=None
                )
                await audit_delivery(session, None, None, "delivery.assign", delivery, by="job")
        except AlreadyAssigned:
            continue  # staff assigned it meanwhile
        assigned += 1
    return assigned
