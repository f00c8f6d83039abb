"""Orders after checkout: who may see them, reading and listing, and every move of their state.

`visible()` is the one ownership query: the buyer sees their orders, staff holding
`orders:read` see all, a shop manager sees the orders holding lines of their shops (and only
those lines). Unknown and not-yours are the same 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.errors import Conflict, NotFound, PermissionDenied
from loumo.core.pagination import after_position, decode_cursor, position_of
from loumo.jobs.outbox import defer
from loumo.orders import READ, WRITE, fidelity
from loumo.orders.lifecycle import (
    add_event,
    follow_fulfilments,
    fulfilments_of,
    items_of,
    move_fulfilment_row,
    move_order,
    release_holds,
    sell_fulfilment,
    tell_customer,
    tell_managers,
)
from loumo.orders.models import Fulfilment, Order, OrderEvent, OrderItem
from loumo.orders.payments_port import line_refund_amount
from loumo.orders.schemas import (
    FulfilmentRead,
    OrderEventRead,
    OrderItemRead,
    OrderRead,
    OrderSummary,
)
from loumo.orders.states import (
    Actor,
    FulfilmentStatus,
    IllegalTransition,
    OrderStatus,
    PaymentStatus,
    check_fulfilment_move,
    check_order_move,
    is_prepaid,
)

ORDER_CANCELLED_JOB = "order.cancelled"
LINE_SHORT_JOB = "order.line_short"
LIVE_FULFILMENTS = (FulfilmentStatus.PENDING, FulfilmentStatus.PREPARING, FulfilmentStatus.READY)


class OrderNotFound(NotFound):
    code, title = "not_found", "Order not found"


class FulfilmentNotAccepted(Conflict):
    code, title = "fulfilment_not_accepted", "Fulfilment not accepted"


class AlreadyAccepted(Conflict):
    code, title = "already_accepted", "Already accepted"


class NotCashOrder(Conflict):
    code, title = "not_cash_order", "Not a cash order"


class ShortQuantityExceeded(Conflict):
    code, title = "short_quantity_exceeded", "More than the line holds"


# --- who sees what ------------------------------------------------------------------------


def visible(principal: Principal) -> ColumnElement[bool]:
    """The orders `principal` may see: their own, their shops' (managers), all (staff)."""
    if principal.has(READ):
        return true()
    mine: list[ColumnElement[bool]] = [Order.user_id == principal.user_id]
    if principal.managed_shop_ids:
        mine.append(
            Order.id.in_(
                select(Fulfilment.order_id).where(
                    Fulfilment.shop_id.in_(principal.managed_shop_ids)
                )
            )
        )
    return or_(*mine) if mine else false()


def shop_scope(principal: Principal, order: Order) -> frozenset[str] | None:
    """The shops whose lines `principal` sees on `order`; None for every line."""
    if principal.has(READ) or order.user_id == principal.user_id:
        return None
    return principal.managed_shop_ids


async def get_visible(session: AsyncSession, principal: Principal, order_id: str) -> Order:
    """The order if `principal` may see it; 404 otherwise, as for an unknown one."""
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id, visible(principal))
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFound(f"No order {order_id}")
    return order


async def order_read(
    session: AsyncSession, order: Order, shops: frozenset[str] | None = None
) -> OrderRead:
    fulfilments = [
        f for f in await fulfilments_of(session, order.id) if shops is None or f.shop_id in shops
    ]
    seen = {f.id for f in fulfilments}
    items = [i for i in await items_of(session, order.id) if i.fulfilment_id in seen]
    events = await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
    )
    timeline = [e for e in events if e.fulfilment_id is None or e.fulfilment_id in seen]
    return OrderRead.model_validate(
        {
            **{c.key: getattr(order, c.key) for c in Order.__table__.columns},
            "items": [OrderItemRead.model_validate(i) for i in items],
            "fulfilments": [FulfilmentRead.model_validate(f) for f in fulfilments],
            "timeline": [OrderEventRead.model_validate(e) for e in timeline],
        }
    )


async def get_order(session: AsyncSession, principal: Principal, order_id: str) -> OrderRead:
    order = await get_visible(session, principal, order_id)
    return await order_read(session, order, shop_scope(principal, order))


async def list_orders(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    shop_id: str | None = None,
    zone_id: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[OrderSummary], str | None]:
    """Visible orders, newest first, filtered; `next_cursor` continues after the last one."""
    query = (
        select(Order)
        .where(visible(principal))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit + 1)
    )
    if status:
        query = query.where(Order.status == status)
    if shop_id:
        query = query.where(
            Order.id.in_(select(Fulfilment.order_id).where(Fulfilment.shop_id == shop_id))
        )
    if zone_id:
        query = query.where(Order.zone_id == zone_id)
    if created_from:
        query = query.where(Order.created_at >= created_from)
    if created_to:
        query = query.where(Order.created_at < created_to)
    position = decode_cursor(cursor)
    if position is not None:
        query = query.where(after_position(Order.created_at, Order.id, position))
    rows = list(await session.scalars(query))
    next_cursor = position_of(rows[limit - 1]) if len(rows) > limit else None
    return [OrderSummary.model_validate(o) for o in rows[:limit]], next_cursor


# --- cancel and expire ----------------------------------------------------------------------


async def _close_fulfilments(
    session: AsyncSession, order: Order, *, tell: bool, actor: Actor, actor_id: str | None
) -> None:
    for fulfilment in await fulfilments_of(session, order.id):
        if fulfilment.status not in LIVE_FULFILMENTS:
            continue
        if not await move_fulfilment_row(
            session, fulfilment, FulfilmentStatus.CANCELLED, actor=actor, actor_id=actor_id
        ):
            continue
        if tell:
            await tell_managers(session, order, fulfilment, "cancelled")


async def cancel(
    session: AsyncSession, order: Order, *, actor: Actor, actor_id: str | None, reason: str
) -> None:
    """Cancel once: the conditional UPDATE on the status decides, then stock and the promotion
    use go back, the shops and the buyer are told, and payments learn of it (outbox)."""
    frm = order.status
    check_order_move(frm, OrderStatus.CANCELLED, actor)
    money = order.payment_status != PaymentStatus.UNPAID or order.payment_in_flight
    # Shops were told about a cash order at once, about a prepaid one once paid.
    shops_knew = frm != OrderStatus.PENDING_PAYMENT
    if not await move_order(
        session,
        order,
        frm,
        OrderStatus.CANCELLED,
        actor=actor,
        actor_id=actor_id,
        reason=reason,
        cancelled_at=utcnow(),
    ):
        raise IllegalTransition(
            f"The order moved on from {frm} meanwhile; it cannot be cancelled now",
            from_status=frm,
            to_status=OrderStatus.CANCELLED,
        )
    await release_holds(session, order, actor_id=actor_id)
    await _close_fulfilments(session, order, tell=shops_knew, actor=actor, actor_id=actor_id)
    if money:
        await defer(session, ORDER_CANCELLED_JOB, {"order_id": order.id})
    await tell_customer(session, order, OrderStatus.CANCELLED, reason=reason)


async def cancel_order(
    session: AsyncSession, principal: Principal, order_id: str, *, reason: str, meta: RequestMeta
) -> OrderRead:
    """The buyer cancels before preparing; staff (`orders:write`) before it leaves."""
    order = await get_visible(session, principal, order_id)
    if order.user_id == principal.user_id:
        actor = Actor.CUSTOMER
    elif principal.has(WRITE):
        actor = Actor.STAFF
    else:
        raise PermissionDenied("Only the buyer or staff may cancel an order")
    await cancel(session, order, actor=actor, actor_id=principal.user_id, reason=reason)
    if actor is Actor.STAFF:
        await _audit(session, meta, principal, "order.cancel", order, reason=reason)
    return await order_read(session, order)


async def expire_due(
    session: AsyncSession, *, now: datetime | None = None, batch: int = 200
) -> int:
    """Expire unpaid orders past `expires_at` with no payment in flight; returns how many."""
    now = now or utcnow()
    due = list(
        await session.scalars(
            select(Order.id)
            .where(
                Order.status == OrderStatus.PENDING_PAYMENT,
                Order.expires_at <= now,
                Order.payment_in_flight.is_(False),
            )
            .order_by(Order.expires_at)
            .limit(batch)
        )
    )
    expired = 0
    for order_id in due:
        order = await session.get(Order, order_id, populate_existing=True)
        if order is None:
            continue
        if not await move_order(
            session,
            order,
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.EXPIRED,
            actor=Actor.SYSTEM,
            reason="not paid in time",
            where=(Order.payment_in_flight.is_(False), Order.expires_at <= now),
        ):
            continue  # paid, cancelled or a payment started meanwhile
        await release_holds(session, order, actor_id=None)
        await _close_fulfilments(session, order, tell=False, actor=Actor.SYSTEM, actor_id=None)
        await tell_customer(session, order, OrderStatus.EXPIRED)
        expired += 1
    return expired


async def complete(
    session: AsyncSession,
    order: Order,
    *,
    actor: Actor,
    actor_id: str | None,
    fidelity_rate: Decimal,
    reason: str = "",
    where: Sequence[ColumnElement[bool]] = (),
) -> bool:
    """`delivered` → `completed`, once (the conditional UPDATE decides; False when another
    request or job completed it first), then the order's fidelity points are awarded at
    `fidelity_rate` and the buyer is told. The one way to complete an order: the job and staff
    both come here."""
    check_order_move(order.status, OrderStatus.COMPLETED, actor)
    if not await move_order(
        session,
        order,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
        actor=actor,
        actor_id=actor_id,
        reason=reason,
        where=where,
        completed_at=utcnow(),
    ):
        return False
    points = await fidelity.award_for_completion(session, order, rate=fidelity_rate)
    await tell_customer(
        session,
        order,
        OrderStatus.COMPLETED,
        points_fr=f"Vous gagnez {points} point(s) de fidélité." if points else "",
        points_en=f"You earned {points} fidelity point(s)." if points else "",
    )
    return True


async def complete_due(
    session: AsyncSession,
    *,
    after: timedelta,
    fidelity_rate: Decimal,
    now: datetime | None = None,
    batch: int = 200,
) -> int:
    """Complete orders delivered at least `after` (`ORDER_COMPLETE_AFTER`) ago; returns how
    many."""
    cutoff = (now or utcnow()) - after
    due = list(
        await session.scalars(
            select(Order.id)
            .where(Order.status == OrderStatus.DELIVERED, Order.delivered_at <= cutoff)
            .order_by(Order.delivered_at)
            .limit(batch)
        )
    )
    completed = 0
    for order_id in due:
        order = await session.get(Order, order_id, populate_existing=True)
        if order is None or order.status != OrderStatus.DELIVERED:
            continue  # staff completed it meanwhile
        if await complete(
            session,
            order,
            actor=Actor.SYSTEM,
            actor_id=None,
            fidelity_rate=fidelity_rate,
            reason="delivered and not disputed in time",
            where=(Order.delivered_at <= cutoff,),
        ):
            completed += 1
    return completed


# --- staff moves ----------------------------------------------------------------------------


async def _audit(
    session: AsyncSession,
    meta: RequestMeta,
    principal: Principal,
    action: str,
    order: Order,
    **diff: Any,
) -> None:
    await audit.record(
        session,
        meta,
        action,
        actor_id=principal.user_id,
        entity_type="order",
        entity_id=order.id,
        diff={"reference": order.reference, "status": order.status, **diff},
    )


# Staff moving an order moves its live fulfilments along (the order then follows them).
_FULFILMENT_STEP = {
    OrderStatus.PREPARING: (FulfilmentStatus.PENDING, FulfilmentStatus.PREPARING),
    OrderStatus.READY: (FulfilmentStatus.PREPARING, FulfilmentStatus.READY),
}


async def transition_order(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    to: OrderStatus,
    *,
    reason: str,
    meta: RequestMeta,
    fidelity_rate: Decimal,
) -> OrderRead:
    """`POST /orders/{id}/transitions`: staff move an order along its state machine
    (`completed` awards the order's fidelity points at `fidelity_rate`)."""
    order = await get_visible(session, principal, order_id)
    frm = order.status
    check_order_move(frm, to, Actor.STAFF)
    actor_id = principal.user_id
    if to == OrderStatus.CANCELLED:
        await cancel(session, order, actor=Actor.STAFF, actor_id=actor_id, reason=reason)
    elif to == OrderStatus.CONFIRMED:  # a cash order, on behalf of its shops
        for fulfilment in await fulfilments_of(session, order.id):
            if fulfilment.status in LIVE_FULFILMENTS:
                await sell_fulfilment(session, fulfilment, actor_id=actor_id)
        await confirm_cash(session, order, actor=Actor.STAFF, actor_id=actor_id, reason=reason)
    elif to in _FULFILMENT_STEP:
        step_from, step_to = _FULFILMENT_STEP[to]
        for fulfilment in await fulfilments_of(session, order.id):
            if fulfilment.status == step_from:
                await advance_fulfilment(
                    session, fulfilment, step_to, actor=Actor.STAFF, actor_id=actor_id
                )
        if order.status != to:  # a fulfilment is behind (e.g. a cash shop yet to accept)
            raise IllegalTransition(
                f"The order's shops cannot all move to {to} now", from_status=frm, to_status=to
            )
    elif to == OrderStatus.COMPLETED:
        if not await complete(
            session,
            order,
            actor=Actor.STAFF,
            actor_id=actor_id,
            fidelity_rate=fidelity_rate,
            reason=reason,
        ):
            raise IllegalTransition(
                f"The order moved on from {frm} meanwhile", from_status=frm, to_status=to
            )
    else:
        await _moved_or_raise(
            session, order, frm, to, actor=Actor.STAFF, actor_id=actor_id, reason=reason
        )
    await _audit(session, meta, principal, "order.transition", order, to=to.value, reason=reason)
    return await order_read(session, order)


async def _moved_or_raise(
    session: AsyncSession,
    order: Order,
    frm: str,
    to: str,
    *,
    actor: Actor,
    actor_id: str | None,
    reason: str = "",
    **values: Any,
) -> None:
    if not await move_order(
        session, order, frm, to, actor=actor, actor_id=actor_id, reason=reason, **values
    ):
        raise IllegalTransition(
            f"The order moved on from {frm} meanwhile", from_status=frm, to_status=to
        )
    await tell_customer(session, order, to)


async def confirm_cash(
    session: AsyncSession, order: Order, *, actor: Actor, actor_id: str | None, reason: str = ""
) -> None:
    """A cash order whose every live fulfilment is accepted becomes `confirmed`."""
    fulfilments = [
        f for f in await fulfilments_of(session, order.id) if f.status in LIVE_FULFILMENTS
    ]
    if order.status != OrderStatus.PLACED or any(f.accepted_at is None for f in fulfilments):
        return
    await _moved_or_raise(
        session,
        order,
        OrderStatus.PLACED,
        OrderStatus.CONFIRMED,
        actor=actor,
        actor_id=actor_id,
        reason=reason or "every shop accepted",
    )
    await follow_fulfilments(session, order, actor=Actor.SYSTEM, actor_id=None)


# --- fulfilments: shop managers, staff, and delivery (through `advance_fulfilment`) ----------


async def advance_fulfilment(
    session: AsyncSession,
    fulfilment: Fulfilment,
    to: FulfilmentStatus,
    *,
    actor: Actor,
    actor_id: str | None,
    reason: str = "",
) -> None:
    """Move one fulfilment (checked against the state machine, once), then let its order
    follow. Delivery calls this for `out_for_delivery`, `delivered` and `failed`."""
    frm = fulfilment.status
    check_fulfilment_move(frm, to, actor)
    if frm == FulfilmentStatus.PENDING and fulfilment.accepted_at is None:
        raise FulfilmentNotAccepted("The shop has not accepted this order yet")
    if not await move_fulfilment_row(
        session, fulfilment, to, actor=actor, actor_id=actor_id, reason=reason
    ):
        raise IllegalTransition(
            f"The fulfilment moved on from {frm} meanwhile", from_status=frm, to_status=to
        )
    order = await session.get(Order, fulfilment.order_id, populate_existing=True)
    assert order is not None
    await follow_fulfilments(session, order, actor=Actor.SYSTEM, actor_id=None)


async def _fulfilment_for(
    session: AsyncSession, principal: Principal, order_id: str, fulfilment_id: str
) -> tuple[Order, Fulfilment, Actor]:
    """The fulfilment as its shop's manager or staff (`orders:write`) may act on it."""
    order = await get_visible(session, principal, order_id)
    scope = shop_scope(principal, order)
    fulfilment = await session.scalar(
        select(Fulfilment)
        .where(Fulfilment.id == fulfilment_id, Fulfilment.order_id == order.id)
        .execution_options(populate_existing=True)
    )
    if fulfilment is None or (scope is not None and fulfilment.shop_id not in scope):
        raise NotFound(f"No fulfilment {fulfilment_id} on this order")
    if principal.manages_shop(fulfilment.shop_id):
        return order, fulfilment, Actor.MANAGER
    if principal.has(WRITE):
        return order, fulfilment, Actor.STAFF
    raise PermissionDenied("Only the shop's managers or staff act on a fulfilment")


async def accept_fulfilment(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    fulfilment_id: str,
    *,
    meta: RequestMeta,
) -> OrderRead:
    """A shop accepts its part of a cash order: its stock becomes a sale, once."""
    order, fulfilment, actor = await _fulfilment_for(session, principal, order_id, fulfilment_id)
    if is_prepaid(order.payment_method):
        raise NotCashOrder("A prepaid order is accepted by its payment")
    if order.status != OrderStatus.PLACED or fulfilment.status != FulfilmentStatus.PENDING:
        raise IllegalTransition(
            f"An order in {order.status} cannot be accepted",
            from_status=order.status,
            to_status=OrderStatus.CONFIRMED,
        )
    if not await sell_fulfilment(session, fulfilment, actor_id=principal.user_id):
        raise AlreadyAccepted("This shop already accepted the order")
    await add_event(
        session,
        order.id,
        kind="fulfilment_accepted",
        actor=actor,
        actor_id=principal.user_id,
        fulfilment_id=fulfilment.id,
    )
    await confirm_cash(session, order, actor=Actor.SYSTEM, actor_id=None)
    await _audit(
        session, meta, principal, "order.fulfilment.accept", order, shop=fulfilment.shop_id
    )
    return await order_read(session, order, shop_scope(principal, order))


async def move_fulfilment(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    fulfilment_id: str,
    to: FulfilmentStatus,
    *,
    reason: str,
    meta: RequestMeta,
) -> OrderRead:
    """A shop starts preparing its part, or marks it ready."""
    order, fulfilment, actor = await _fulfilment_for(session, principal, order_id, fulfilment_id)
    if order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        raise IllegalTransition(
            f"The order is {order.status}", from_status=fulfilment.status, to_status=to
        )
    await advance_fulfilment(
        session, fulfilment, to, actor=actor, actor_id=principal.user_id, reason=reason
    )
    order = await get_visible(session, principal, order_id)
    await _audit(
        session, meta, principal, "order.fulfilment.move", order, shop=fulfilment.shop_id, to=to
    )
    return await order_read(session, order, shop_scope(principal, order))


async def mark_line_short(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    item_id: str,
    quantity: int,
    *,
    reason: str,
    meta: RequestMeta,
) -> OrderRead:
    """The shop lacks `quantity` units of a line while preparing: a paid order is refunded for
    them (the `order.line_short` job, handled by payments); a cash order's total drops."""
    order = await get_visible(session, principal, order_id)
    item = await session.scalar(
        select(OrderItem)
        .where(OrderItem.id == item_id, OrderItem.order_id == order.id)
        .execution_options(populate_existing=True)
    )
    if item is None:
        raise NotFound(f"No item {item_id} on this order")
    order, fulfilment, actor = await _fulfilment_for(
        session, principal, order_id, item.fulfilment_id
    )
    if fulfilment.status != FulfilmentStatus.PREPARING:
        raise IllegalTransition(
            "A line is marked short while its shop prepares it",
            from_status=fulfilment.status,
            to_status=FulfilmentStatus.PREPARING,
        )
    left = item.quantity - item.short_quantity - item.refunded_quantity
    if quantity > left:
        raise ShortQuantityExceeded(f"Only {left} units of this line can still be short")
    data: dict[str, Any] = {"item_id": item.id, "quantity": quantity}
    if is_prepaid(order.payment_method):
        item.short_quantity += quantity
        await session.flush()
        if order.payment_status != PaymentStatus.UNPAID:
            await defer(
                session,
                LINE_SHORT_JOB,
                {"order_id": order.id, "item_id": item.id, "quantity": quantity},
            )
    else:
        # Cash: nothing to refund; the line's net for these units leaves the total. The units
        # count as refunded on the line so that no later refund gives them back twice.
        drop = line_refund_amount(item, quantity)
        item.short_quantity += quantity
        item.refunded_amount += drop
        item.refunded_quantity += quantity
        await session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(total=Order.total - drop, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        order = await get_visible(session, principal, order_id)
        data["dropped"] = drop
    await add_event(
        session,
        order.id,
        kind="line_short",
        actor=actor,
        actor_id=principal.user_id,
        fulfilment_id=fulfilment.id,
        reason=reason,
        data=data,
    )
    await tell_customer(
        session,
        order,
        "line_short",
        item_fr=item.name_fr,
        item_en=item.name_en,
        quantity=quantity,
        money_fr="Vous serez remboursé." if is_prepaid(order.payment_method) else "",
        money_en="You will be refunded." if is_prepaid(order.payment_method) else "",
    )
    await _audit(session, meta, principal, "order.line_short", order, **data)
    return await order_read(session, order, shop_scope(principal, order))
