"""Who sees which deliveries, and what happens to them once assigned.

`visible()` is the one ownership query: staff holding `deliveries:read` see all, an agent
their own, a shop's managers those of their shop's fulfilments, a customer those of their own
orders; unknown and not-yours are the same 404. What each reader sees of a delivery is
`read()`: the customer the state, times and the agent's first name; the agent, the managers
and staff where to go, who to ask for, what to hand over and the cash to collect.

The agent starts (the fulfilment and the order go `out_for_delivery`, a closing code is
issued, the customer is told when to expect them), closes with the customer's code (the order
becomes `delivered` once every fulfilment is; a cash order's money is recorded through the
Payment service), records a proof, or reports a failed attempt (a refusal puts the goods back
on the shop's shelf). Staff reschedule, cancel and reissue the code. Every move is one
conditional UPDATE on the delivery's status, and every action is audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import as_utc, utcnow
from loumo.core.errors import PermissionDenied
from loumo.core.pagination import InvalidCursor, Page, decode_cursor, encode_cursor
from loumo.delivery import DELIVERIES_READ, codes
from loumo.delivery.dispatch import (
    audit_delivery,
    cash_due,
    hold_capacity,
    release_capacity,
    serves,
)
from loumo.delivery.errors import (
    AgentNotInZone,
    CodeExpired,
    CodeLocked,
    DeliveryNotFound,
    DeliveryStateConflict,
    NotReschedulable,
    UnknownAgent,
    WrongCode,
)
from loumo.delivery.models import Delivery, DeliveryAgent
from loumo.delivery.notices import (
    agent_first_name,
    alert_staff_locked,
    tell_agent,
    tell_customer_failed,
    tell_customer_started,
)
from loumo.delivery.schemas import (
    DeliveryCancel,
    DeliveryCode,
    DeliveryFail,
    DeliveryLine,
    DeliveryQuery,
    DeliveryRead,
    DeliveryReschedule,
    DeliveryStart,
    DeliveryStatus,
    FailureReason,
    Proof,
    ProofKind,
    first_name,
)
from loumo.media import service as media
from loumo.media.storage import Storage
from loumo.orders.errors import OrderNotFound
from loumo.orders.lifecycle import return_fulfilment_stock
from loumo.orders.models import Fulfilment, Order, OrderItem
from loumo.orders.moves import advance_fulfilment
from loumo.orders.queries import fulfilments_of
from loumo.orders.states import Actor, FulfilmentStatus
from loumo.payments.settlement import record_cash_payment

STAFF, AGENT, MANAGER, CUSTOMER = "staff", "agent", "manager", "customer"


# --- reading ------------------------------------------------------------------------------------


def _own_agent_ids(principal: Principal) -> Any:
    return select(DeliveryAgent.id).where(DeliveryAgent.user_id == principal.user_id)


def visible(principal: Principal) -> ColumnElement[bool]:
    """The deliveries `principal` may see."""
    if principal.has(DELIVERIES_READ):
        return true()
    mine: list[ColumnElement[bool]] = [
        Delivery.agent_id.in_(_own_agent_ids(principal)),
        Delivery.order_id.in_(select(Order.id).where(Order.user_id == principal.user_id)),
    ]
    if principal.managed_shop_ids:
        mine.append(Delivery.shop_id.in_(principal.managed_shop_ids))
    return or_(*mine)


async def agent_of(session: AsyncSession, principal: Principal) -> DeliveryAgent | None:
    """The caller's agent profile, if they have one."""
    return await session.scalar(
        select(DeliveryAgent)
        .where(DeliveryAgent.user_id == principal.user_id)
        .execution_options(populate_existing=True)
    )


async def get_visible(session: AsyncSession, principal: Principal, delivery_id: str) -> Delivery:
    delivery = await session.scalar(
        select(Delivery)
        .where(Delivery.id == delivery_id, visible(principal))
        .execution_options(populate_existing=True)
    )
    if delivery is None:
        raise DeliveryNotFound(f"No delivery {delivery_id}")
    return delivery


async def _view(
    session: AsyncSession, principal: Principal, delivery: Delivery, agent_id: str | None
) -> str:
    if principal.has(DELIVERIES_READ):
        return STAFF
    if agent_id is not None and delivery.agent_id == agent_id:
        return AGENT
    if principal.manages_shop(delivery.shop_id):
        return MANAGER
    return CUSTOMER


def _proof(storage: Storage, key: str | None) -> Proof | None:
    if key is None:
        return None
    return Proof(key=key, url=str(media.image_read(storage, key)["url"]))


async def read(
    session: AsyncSession, delivery: Delivery, view: str, storage: Storage
) -> DeliveryRead:
    """The delivery as a reader of kind `view` may see it."""
    order = await session.get(Order, delivery.order_id)
    assert order is not None
    base: dict[str, Any] = {
        "id": delivery.id,
        "order_id": delivery.order_id,
        "order_reference": order.reference,
        "fulfilment_id": delivery.fulfilment_id,
        "shop_id": delivery.shop_id,
        "status": delivery.status,
        "priority": delivery.priority,
        "scheduled_at": delivery.scheduled_at,
        "started_at": delivery.started_at,
        "eta": delivery.eta,
        "delivered_at": delivery.delivered_at,
        "failed_at": delivery.failed_at,
        "failure_reason": delivery.failure_reason,
        "agent_first_name": await agent_first_name(session, delivery.agent_id),
        "code_locked": delivery.code_tries >= codes.MAX_TRIES,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
    }
    if view != CUSTOMER:
        items = await session.scalars(
            select(OrderItem)
            .where(OrderItem.fulfilment_id == delivery.fulfilment_id)
            .order_by(OrderItem.id)
        )
        buyer = await session.scalar(select(User.name).where(User.id == order.user_id))
        base |= {
            "agent_id": delivery.agent_id,
            "address": dict(order.delivery_address or {}),
            "customer_first_name": first_name(buyer),
            "contact_phone": order.contact_phone,
            "lines": [
                DeliveryLine(
                    name_fr=item.name_fr,
                    name_en=item.name_en,
                    quantity=item.quantity - item.short_quantity,
                )
                for item in items
                if item.quantity > item.short_quantity
            ],
            "payment_method": order.payment_method,
            "currency": delivery.currency,
            "cash_due": delivery.cash_due,
            "cash_collected": delivery.cash_collected,
            "attempts": delivery.attempts,
            "failure_note": delivery.failure_note,
            "proof_photo": _proof(storage, delivery.proof_photo_key),
            "proof_signature": _proof(storage, delivery.proof_signature_key),
        }
    return DeliveryRead.model_validate(base)


async def get_delivery(
    session: AsyncSession, principal: Principal, delivery_id: str, storage: Storage
) -> DeliveryRead:
    delivery = await get_visible(session, principal, delivery_id)
    agent = await agent_of(session, principal)
    view = await _view(session, principal, delivery, agent.id if agent else None)
    return await read(session, delivery, view, storage)


def _after(cursor: str | None) -> ColumnElement[bool] | None:
    position = decode_cursor(cursor)
    if position is None:
        return None
    try:
        priority = int(position["p"])
        due = datetime.fromisoformat(str(position["t"]))
        last_id = str(position["id"])
    except (KeyError, ValueError, TypeError):
        raise InvalidCursor("The cursor is not one this API issued") from None
    due = as_utc(due)
    return or_(
        Delivery.priority > priority,
        and_(Delivery.priority == priority, Delivery.due_at > due),
        and_(Delivery.priority == priority, Delivery.due_at == due, Delivery.id > last_id),
    )


async def list_deliveries(
    session: AsyncSession, principal: Principal, query: DeliveryQuery, storage: Storage
) -> Page[DeliveryRead]:
    """Visible deliveries, most urgent first (priority, then when due); `mine` keeps the
    caller's own as an agent."""
    agent = await agent_of(session, principal)
    stmt = select(Delivery).where(visible(principal))
    if query.mine:
        stmt = stmt.where(Delivery.agent_id == (agent.id if agent else None))
    if query.status is not None:
        stmt = stmt.where(Delivery.status == query.status)
    if query.order_id is not None:
        stmt = stmt.where(Delivery.order_id == query.order_id)
    if query.agent_id is not None:
        stmt = stmt.where(Delivery.agent_id == query.agent_id)
    after = _after(query.cursor)
    if after is not None:
        stmt = stmt.where(after)
    rows = list(
        await session.scalars(
            stmt.order_by(Delivery.priority, Delivery.due_at, Delivery.id).limit(query.limit + 1)
        )
    )
    next_cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {"p": last.priority, "t": as_utc(last.due_at).isoformat(), "id": last.id}
        )
    agent_id = agent.id if agent else None
    items = [
        await read(session, d, await _view(session, principal, d, agent_id), storage) for d in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


# --- the agent's moves --------------------------------------------------------------------------


async def _as_agent(
    session: AsyncSession, principal: Principal, delivery_id: str
) -> tuple[Delivery, DeliveryAgent]:
    """The delivery, for its own agent: 404 when the caller cannot see it, 403 when they can
    but are not the agent it is assigned to."""
    delivery = await get_visible(session, principal, delivery_id)
    agent = await agent_of(session, principal)
    if agent is None or delivery.agent_id != agent.id:
        raise PermissionDenied("Only the agent it is assigned to acts on a delivery")
    return delivery, agent


async def _move(
    session: AsyncSession, delivery: Delivery, frm: tuple[str, ...], to: str, **values: Any
) -> None:
    """One conditional UPDATE of the delivery's status; 409 when it is elsewhere."""
    moved = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.status.in_(frm))
        .values(status=to, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(delivery)
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; it cannot become {to}",
            status=delivery.status,
        )
    await session.refresh(delivery)


async def _fulfilment(session: AsyncSession, delivery: Delivery) -> Fulfilment:
    fulfilment = await session.get(Fulfilment, delivery.fulfilment_id, populate_existing=True)
    assert fulfilment is not None
    return fulfilment


async def _order(session: AsyncSession, delivery: Delivery) -> Order:
    order = await session.get(Order, delivery.order_id, populate_existing=True)
    assert order is not None
    return order


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
    delivery, _ = await _as_agent(session, principal, delivery_id)
    fulfilment = await _fulfilment(session, delivery)
    if fulfilment.status != FulfilmentStatus.READY:
        raise DeliveryStateConflict(
            f"The shop's part is {fulfilment.status}, not ready", status=delivery.status
        )
    now = utcnow()
    eta = now + (timedelta(minutes=body.eta_minutes) if body.eta_minutes else default_eta)
    await _move(
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
    order = await _order(session, delivery)
    await tell_customer_started(session, delivery, order)
    await audit_delivery(session, meta, principal.user_id, "delivery.start", delivery)
    return delivery


async def _collect_cash(
    session: AsyncSession, delivery: Delivery, order: Order, collector: str
) -> None:
    """A cash order: what this delivery collects; once every shop's part is delivered, the
    order's cash payment is recorded through the Payment service."""
    others = [f for f in await fulfilments_of(session, order.id) if f.id != delivery.fulfilment_id]
    settled_elsewhere = [
        f
        for f in others
        if f.status not in (FulfilmentStatus.DELIVERED, FulfilmentStatus.CANCELLED)
    ]
    if settled_elsewhere:
        amount = await cash_due(session, order, await _fulfilment(session, delivery))
    else:
        before = await session.scalars(
            select(Delivery.cash_collected).where(
                Delivery.order_id == order.id,
                Delivery.id != delivery.id,
                Delivery.status == DeliveryStatus.DELIVERED,
            )
        )
        amount = max(0, order.total - sum(before))
    delivery.cash_collected = amount
    delivery.cash_due = amount
    await session.flush()
    if not settled_elsewhere:
        await record_cash_payment(session, order.id, order.total, collector)


async def check_code(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    code: str,
    *,
    secret_key: str,
    code_ttl: timedelta,
    meta: RequestMeta,
) -> Delivery:
    """The agent's code for a delivery out for delivery: a wrong one is counted (one
    conditional UPDATE, at most `MAX_TRIES`; the fifth locks the code and alerts staff) and
    refused. Kept apart from closing so that the route counts tries outside the idempotent
    unit of work (whose failure rolls back): the count and the alert commit with the refusal."""
    delivery, _ = await _as_agent(session, principal, delivery_id)
    if delivery.status != DeliveryStatus.OUT_FOR_DELIVERY:
        return delivery  # closing answers (a replay, or 409 for the state)
    if delivery.code_tries >= codes.MAX_TRIES:
        raise CodeLocked("Too many wrong codes: staff must reissue the code")
    if codes.expired(delivery, code_ttl):
        raise CodeExpired("The closing code expired: staff must reissue it")
    if codes.matches(secret_key, delivery, code):
        return delivery
    tries = await codes.count_wrong_try(session, delivery)
    if tries is None:
        raise CodeLocked("Too many wrong codes: staff must reissue the code")
    await audit_delivery(
        session, meta, principal.user_id, "delivery.wrong_code", delivery, tries=tries
    )
    if tries >= codes.MAX_TRIES:
        await alert_staff_locked(session, delivery, await _order(session, delivery))
        raise CodeLocked("Too many wrong codes: staff must reissue the code", tries_left=0)
    raise WrongCode("Wrong closing code", tries_left=codes.MAX_TRIES - tries, field="code")


async def complete(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    code: str,
    *,
    secret_key: str,
    code_ttl: timedelta,
    meta: RequestMeta,
) -> Delivery:
    """The agent closes with the customer's code (`check_code` first): the fulfilment is
    delivered (the order once all are), a cash order's money recorded, capacity freed."""
    delivery = await check_code(
        session,
        principal,
        delivery_id,
        code,
        secret_key=secret_key,
        code_ttl=code_ttl,
        meta=meta,
    )
    if delivery.status != DeliveryStatus.OUT_FOR_DELIVERY:
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; only one out for delivery is closed",
            status=delivery.status,
        )
    await _move(
        session,
        delivery,
        (DeliveryStatus.OUT_FOR_DELIVERY,),
        DeliveryStatus.DELIVERED,
        delivered_at=utcnow(),
    )
    await release_capacity(session, delivery)
    fulfilment = await _fulfilment(session, delivery)
    await advance_fulfilment(
        session,
        fulfilment,
        FulfilmentStatus.DELIVERED,
        actor=Actor.DELIVERY,
        actor_id=principal.user_id,
    )
    order = await _order(session, delivery)
    if order.payment_method == "cash":
        await _collect_cash(session, delivery, order, principal.user_id)
    await audit_delivery(
        session,
        meta,
        principal.user_id,
        "delivery.complete",
        delivery,
        cash_collected=delivery.cash_collected,
    )
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
    delivery, _ = await _as_agent(session, principal, delivery_id)
    note = body.cleaned_note()
    await _move(
        session,
        delivery,
        (DeliveryStatus.OUT_FOR_DELIVERY,),
        DeliveryStatus.FAILED,
        failed_at=utcnow(),
        failure_reason=body.reason.value,
        failure_note=note,
    )
    await release_capacity(session, delivery)
    fulfilment = await _fulfilment(session, delivery)
    await advance_fulfilment(
        session,
        fulfilment,
        FulfilmentStatus.FAILED,
        actor=Actor.DELIVERY,
        actor_id=principal.user_id,
        reason=f"{body.reason.value}: {note}".strip(": "),
    )
    order = await _order(session, delivery)
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


async def add_proof(
    session: AsyncSession,
    principal: Principal,
    delivery_id: str,
    kind: ProofKind,
    key: str,
    *,
    meta: RequestMeta,
) -> Delivery:
    """The agent records a proof photo or the customer's signature (an uploaded image)."""
    delivery, _ = await _as_agent(session, principal, delivery_id)
    if delivery.status not in (DeliveryStatus.OUT_FOR_DELIVERY, DeliveryStatus.DELIVERED):
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; proofs come with delivering it",
            status=delivery.status,
        )
    column = "proof_photo_key" if kind is ProofKind.PHOTO else "proof_signature_key"
    before = getattr(delivery, column)
    await media.update_references(session, [before], [key], field="key")
    setattr(delivery, column, key)
    await session.flush()
    await audit_delivery(
        session, meta, principal.user_id, "delivery.proof", delivery, kind=kind.value, key=key
    )
    return delivery


async def ensure_agent(session: AsyncSession, principal: Principal, delivery_id: str) -> None:
    """Refuse (404/403) a caller who is not the delivery's agent, before an upload is read."""
    await _as_agent(session, principal, delivery_id)


# --- staff --------------------------------------------------------------------------------------


async def _staff_delivery(session: AsyncSession, delivery_id: str) -> Delivery:
    delivery = await session.get(Delivery, delivery_id, populate_existing=True)
    if delivery is None:
        raise DeliveryNotFound(f"No delivery {delivery_id}")
    return delivery


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
    delivery = await _staff_delivery(session, delivery_id)
    if delivery.status == DeliveryStatus.FAILED and delivery.failure_reason == "refused":
        raise NotReschedulable("A refused delivery cannot be rescheduled; its goods went back")
    if delivery.status not in (DeliveryStatus.ASSIGNED, DeliveryStatus.FAILED):
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; it cannot be rescheduled", status=delivery.status
        )
    order = await _order(session, delivery)
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
        await _move(
            session,
            delivery,
            (DeliveryStatus.FAILED,),
            DeliveryStatus.ASSIGNED,
            failed_at=None,
            failure_reason=None,
        )
        await advance_fulfilment(
            session,
            await _fulfilment(session, delivery),
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
    delivery = await _staff_delivery(session, delivery_id)
    was_failed = delivery.status == DeliveryStatus.FAILED
    await _move(
        session,
        delivery,
        (DeliveryStatus.ASSIGNED, DeliveryStatus.FAILED),
        DeliveryStatus.CANCELLED,
        live_fulfilment_id=None,
    )
    await release_capacity(session, delivery)
    if was_failed:
        order = await _order(session, delivery)
        await return_fulfilment_stock(
            session,
            await _fulfilment(session, delivery),
            reason=f"order {order.reference} delivery given up",
            actor_id=principal.user_id,
        )
    await audit_delivery(
        session, meta, principal.user_id, "delivery.cancel", delivery, reason=body.reason
    )
    return delivery


async def reissue_code(
    session: AsyncSession, principal: Principal, delivery_id: str, *, meta: RequestMeta
) -> Delivery:
    """Staff issue a new closing code (the old one stops working; tries start again)."""
    delivery = await _staff_delivery(session, delivery_id)
    if delivery.status != DeliveryStatus.OUT_FOR_DELIVERY:
        raise DeliveryStateConflict(
            f"The delivery is {delivery.status}; codes exist while it is out",
            status=delivery.status,
        )
    await codes.reissue(session, delivery)
    await audit_delivery(
        session,
        meta,
        principal.user_id,
        "delivery.reissue_code",
        delivery,
        issue=delivery.code_issue,
    )
    return delivery


# --- the customer's code ------------------------------------------------------------------------


async def delivery_codes(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    *,
    secret_key: str,
    code_ttl: timedelta,
) -> Page[DeliveryCode]:
    """The closing codes of the caller's own order while it is out (one per shop delivering);
    404 for any other order, or when nothing is out."""
    order = await session.scalar(
        select(Order).where(Order.id == order_id, Order.user_id == principal.user_id)
    )
    if order is None:
        raise OrderNotFound(f"No order {order_id}")
    out = list(
        await session.scalars(
            select(Delivery)
            .where(
                Delivery.order_id == order.id,
                Delivery.status == DeliveryStatus.OUT_FOR_DELIVERY,
            )
            .order_by(Delivery.id)
            .execution_options(populate_existing=True)
        )
    )
    if not out:
        raise DeliveryNotFound("No delivery of this order is out; the code appears once it is")
    return Page(
        items=[
            DeliveryCode(
                delivery_id=d.id,
                code=codes.derive(secret_key, d.id, d.code_issue),
                expires_at=codes.expires_at(d, code_ttl),
                locked=d.code_tries >= codes.MAX_TRIES,
            )
            for d in out
        ],
        next_cursor=None,
    )
