"""Who sees which deliveries, and what of them; who may act on one as its agent.

`visible()` is the one ownership query: staff holding `deliveries:read` see all, an agent
their own, a shop's managers those of their shop's fulfilments, a customer those of their own
orders; unknown and not-yours are the same 404. What each reader sees of a delivery is
`read()`: the customer the state, times and the agent's first name; the agent, the managers
and staff where to go, who to ask for, what to hand over and the cash to collect.
`as_agent()` is the agent-only gate of the moves: 404 to who cannot see the delivery, 403 to
who sees it but does not carry it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.auth import Principal
from loumo.core.db import as_utc
from loumo.core.errors import PermissionDenied
from loumo.core.lookup import one_or_raise
from loumo.core.pagination import InvalidCursor, Page, cut_page, decode_cursor, encode_cursor
from loumo.delivery import DELIVERIES_READ, codes
from loumo.delivery.errors import (
    DeliveryNotFound,
)
from loumo.delivery.models import Delivery, DeliveryAgent
from loumo.delivery.notices import (
    agent_first_name,
)
from loumo.delivery.schemas import (
    DeliveryLine,
    DeliveryQuery,
    DeliveryRead,
    Proof,
    first_name,
)
from loumo.media import service as media
from loumo.media.storage import Storage
from loumo.orders.models import Order
from loumo.orders.queries import fulfilment_items

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
    return await one_or_raise(
        session,
        select(Delivery).where(Delivery.id == delivery_id, visible(principal)),
        DeliveryNotFound(f"No delivery {delivery_id}"),
    )


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
        items = await fulfilment_items(session, delivery.fulfilment_id)
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


def _position(last: Delivery) -> str:
    """The cursor after `last` in (priority, due_at, id) order; `_after` reads it."""
    return encode_cursor({"p": last.priority, "t": as_utc(last.due_at).isoformat(), "id": last.id})


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
    rows, next_cursor = cut_page(rows, query.limit, _position)
    agent_id = agent.id if agent else None
    items = [
        await read(session, d, await _view(session, principal, d, agent_id), storage) for d in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


async def as_agent(
    session: AsyncSession, principal: Principal, delivery_id: str
) -> tuple[Delivery, DeliveryAgent]:
    """The delivery, for its own agent: 404 when the caller cannot see it, 403 when they can
    but are not the agent it is assigned to."""
    delivery = await get_visible(session, principal, delivery_id)
    agent = await agent_of(session, principal)
    if agent is None or delivery.agent_id != agent.id:
        raise PermissionDenied("Only the agent it is assigned to acts on a delivery")
    return delivery, agent
