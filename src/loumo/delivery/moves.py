"""A delivery's moves once assigned: the agent starts or reports a failed attempt; staff
reschedule or cancel.

The agent starts (the fulfilment and the order go `out_for_delivery`, a closing code is
issued, the customer is told when to expect them) or reports a failed attempt (a refusal puts
the goods back on the shop's shelf). Staff reschedule (a failed delivery is assigned again)
and cancel. Every move is one conditional UPDATE on the delivery's status (`move`), and every
action is audited. Closing with the customer's code is `closing.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.lookup import get_or_raise
from loumo.core.once import rows_changed
from loumo.delivery.dispatch import (
    audit_delivery,
    hold_capacity,
    release_capacity,
    serves,
)
from loumo.delivery.errors import (
    AgentNotInZone,
    DeliveryNotFound,
    DeliveryStateConflict,
    NotReschedulable,
    UnknownAgent,
)
from loumo.delivery.models import Delivery, DeliveryAgent
from loumo.delivery.notices import (
    tell_agent,
    tell_customer_failed,
    tell_customer_started,
)
from loumo.delivery.schemas import (
    DeliveryCancel,
    DeliveryFail,
    DeliveryReschedule,
    DeliveryStart,
    DeliveryStatus,
    FailureReason,
)
from loumo.delivery.visibility import as_agent
from loumo.orders.lifecycle import return_fulfilment_stock
from loumo.orders.models import Fulfilment, Order
from loumo.orders.moves import advance_fulfilment
from loumo.orders.states import Actor, FulfilmentStatus


async def move(
    session: AsyncSession, delivery: Delivery, frm: tuple[str, ...], to: str, **values: Any
) -> None:
    """One conditional UPDATE of the delivery's status; 409 when it is elsewhere."""
    moved = await rows_changed(
        session,
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.status.in_(frm))
        .values(status=to, updated_at=utcnow(), **values),
    )
    if moved != 1:
        await session.refresh(delivery)
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; it cannot become {to}",
            status=delivery.status,
        )
    await session.refresh(delivery)


async def fulfilment_of(session: AsyncSession, delivery: Delivery) -> Fulfilment:
    fulfilment = await session.get(Fulfilment, delivery.fulfilment_id, populate_existing=True)
    assert fulfilment is not None
    return fulfilment


async def order_of(session: AsyncSession, delivery: Delivery) -> Order:
    order = await session.get(Order, delivery.order_id, populate_existing=True)
    assert order is not None
    return order


async def end_trip(
    session: AsyncSession,
    principal: Principal,
    delivery: Delivery,
    to: DeliveryStatus,
    *,
    reason: str = "",
    **values: Any,
) -> Fulfilment:
    """A delivery out comes back, delivered or failed: its status moves (`values` with it),
    the agent's capacity is freed and the fulfilment follows; returns the fulfilment."""
    await move(session, delivery, (DeliveryStatus.OUT_FOR_DELIVERY,), to, **values)
    await release_capacity(session, delivery)
    fulfilment = await fulfilment_of(session, delivery)
    await advance_fulfilment(
        session,
        fulfilment,
        FulfilmentStatus(to.value),
        actor=Actor.DELIVERY,
        actor_id=principal.user_id,
        reason=reason,
    )
    return fulfilment


async def start(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    body: DeliveryStart,
    *,
    default_eta: timedelta,
    meta: RequestMeta,
) -> Delivery:
    """The agent sets off: a closing code is issued, the fulfilment (and the order) go out for
    delivery, the customer learns who comes and when."""
    delivery, _ = await as_agent(session, principal, delivery_id)
    fulfilment = await fulfilment_of(session, delivery)
    if fulfilment.status != FulfilmentStatus.READY:
        raise DeliveryStateConflict(
            f"The shop's part is {fulfilment.status}, not ready", status=delivery.status
        )
    now = utcnow()
    eta = now + (timedelta(minutes=body.eta_minutes) if body.eta_minutes else default_eta)
    await move(
        session,
        delivery,
        (DeliveryStatus.ASSIGNED,),
        DeliveryStatus.OUT_FOR_DELIVERY,
        started_at=now,
        eta=eta,
        attempts=Delivery.attempts + 1,
        code_issue=Delivery.code_issue + 1,
        code_issued_at=now,
        code_tries=0,
    )
    await advance_fulfilment(
        session,
        fulfilment,
        FulfilmentStatus.OUT_FOR_DELIVERY,
        actor=Actor.DELIVERY,
        actor_id=principal.user_id,
    )
    order = await order_of(session, delivery)
    await tell_customer_started(session, delivery, order)
    await audit_delivery(session, meta, principal.user_id, "delivery.start", delivery)
    return delivery


async def fail(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    body: DeliveryFail,
    *,
    meta: RequestMeta,
) -> Delivery:
    """A failed attempt, with its reason: the fulfilment fails (staff may reschedule it); a
    refusal puts its goods back on the shop's shelf."""
    delivery, _ = await as_agent(session, principal, delivery_id)
    note = body.cleaned_note()
    fulfilment = await end_trip(
        session,
        principal,
        delivery,
        DeliveryStatus.FAILED,
        reason=f"{body.reason.value}: {note}".strip(": "),
        failed_at=utcnow(),
        failure_reason=body.reason.value,
        failure_note=note,
    )
    order = await order_of(session, delivery)
    if body.reason is FailureReason.REFUSED:
        await return_fulfilment_stock(
            session,
            fulfilment,
            reason=f"order {order.reference} refused",
            actor_id=principal.user_id,
        )
    await tell_customer_failed(session, delivery, order, body.reason.value)
    await audit_delivery(
        session, meta, principal.user_id, "delivery.fail", delivery, reason=body.reason.value
    )
    return delivery


# --- staff --------------------------------------------------------------------------------------


async def staff_delivery(session: AsyncSession, delivery_id: str) -> Delivery:
    return await get_or_raise(
        session, Delivery, delivery_id, DeliveryNotFound(f"No delivery {delivery_id}")
    )


async def reschedule(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    body: DeliveryReschedule,
    *,
    meta: RequestMeta,
) -> Delivery:
    """Staff move a delivery (assigned, or failed other than refused) to another time, agent
    or priority; a failed one is assigned again (its agent's capacity taken again)."""
    delivery = await staff_delivery(session, delivery_id)
    if delivery.status == DeliveryStatus.FAILED and delivery.failure_reason == "refused":
        raise NotReschedulable("A refused delivery cannot be rescheduled; its goods went back")
    if delivery.status not in (DeliveryStatus.ASSIGNED, DeliveryStatus.FAILED):
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; it cannot be rescheduled", status=delivery.status
        )
    order = await order_of(session, delivery)
    agent_id = body.agent_id or delivery.agent_id
    if body.agent_id is not None:
        agent = await session.get(DeliveryAgent, body.agent_id)
        if agent is None:
            raise UnknownAgent(f"No agent {body.agent_id}", field="agent_id")
        if not serves(agent, order.zone_id):
            raise AgentNotInZone("The agent does not serve the order's zone", field="agent_id")
    was_failed = delivery.status == DeliveryStatus.FAILED
    changed_agent = agent_id != delivery.agent_id
    if was_failed or changed_agent:
        await release_capacity(session, delivery)
        await hold_capacity(session, delivery, agent_id)
    if body.priority is not None:
        delivery.priority = body.priority
    if body.scheduled_at is not None:
        delivery.scheduled_at = body.scheduled_at
    delivery.due_at = delivery.scheduled_at or utcnow()
    await session.flush()
    if was_failed:
        await move(
            session,
            delivery,
            (DeliveryStatus.FAILED,),
            DeliveryStatus.ASSIGNED,
            failed_at=None,
            failure_reason=None,
        )
        await advance_fulfilment(
            session,
            await fulfilment_of(session, delivery),
            FulfilmentStatus.READY,
            actor=Actor.DELIVERY,
            actor_id=principal.user_id,
            reason="rescheduled",
        )
    if was_failed or changed_agent:
        await tell_agent(session, delivery, order)
    await audit_delivery(
        session,
        meta,
        principal.user_id,
        "delivery.reschedule",
        delivery,
        scheduled_at=delivery.scheduled_at.isoformat() if delivery.scheduled_at else None,
        priority=delivery.priority,
    )
    return delivery


async def cancel(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    body: DeliveryCancel,
    *,
    meta: RequestMeta,
) -> Delivery:
    """Staff call off a delivery not under way: an assigned one frees the fulfilment for
    another assignment; a failed one is given up and its goods go back on the shelf."""
    delivery = await staff_delivery(session, delivery_id)
    was_failed = delivery.status == DeliveryStatus.FAILED
    await move(
        session,
        delivery,
        (DeliveryStatus.ASSIGNED, DeliveryStatus.FAILED),
        DeliveryStatus.CANCELLED,
        live_fulfilment_id=None,
    )
    await release_capacity(session, delivery)
    if was_failed:
        order = await order_of(session, delivery)
        await return_fulfilment_stock(
            session,
            await fulfilment_of(session, delivery),
            reason=f"order {order.reference} delivery given up",
            actor_id=principal.user_id,
        )
    await audit_delivery(
        session, meta, principal.user_id, "delivery.cancel", delivery, reason=body.reason
    )
    return delivery
