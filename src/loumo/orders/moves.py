"""Moving an order along: staff transitions (`POST /orders/{id}/transitions`), and the
fulfilments, moved by their shop's managers (accept a cash order, prepare, mark a line short,
ready), by staff, and by delivery through `advance_fulfilment` (out for delivery, delivered,
failed). Ending an order (cancel, completion) is `closing.py`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.service import RequestMeta
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.errors import NotFound, PermissionDenied
from loumo.jobs.outbox import defer
from loumo.orders import WRITE
from loumo.orders.closing import LIVE_FULFILMENTS, cancel, complete
from loumo.orders.errors import (
    AlreadyAccepted,
    FulfilmentNotAccepted,
    NotCashOrder,
    ShortQuantityExceeded,
)
from loumo.orders.job_names import ORDER_LINE_SHORT_JOB
from loumo.orders.lifecycle import (
    add_event,
    follow_fulfilments,
    move_fulfilment_row,
    move_order,
    new_event,
    sell_fulfilment,
)
from loumo.orders.models import Fulfilment, Order, OrderEvent, OrderItem
from loumo.orders.notices import tell_customer
from loumo.orders.queries import fulfilments_of
from loumo.orders.reading import answer, audit_order, get_visible, order_read, shop_scope
from loumo.orders.refunds import line_refund_amount
from loumo.orders.schemas import OrderRead
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
    await audit_order(
        session, meta, principal, "order.transition", order, to=to.value, reason=reason
    )
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
    follow. Delivery calls this for `out_for_delivery`, `delivered`, `failed`, and `ready`
    again (a failed attempt rescheduled)."""
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


async def _shop_event(
    session: AsyncSession,
    principal: Principal,
    fulfilment: Fulfilment,
    actor: Actor,
    *,
    kind: str,
    **more: Any,
) -> OrderEvent:
    """The timeline entry of what `principal` (its shop's manager, or staff) did to a
    fulfilment beyond moving it."""
    return await add_event(
        session,
        new_event(
            fulfilment.order_id,
            kind=kind,
            actor=actor,
            actor_id=principal.user_id,
            fulfilment_id=fulfilment.id,
            **more,
        ),
    )


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
    await _shop_event(session, principal, fulfilment, actor, kind="fulfilment_accepted")
    await confirm_cash(session, order, actor=Actor.SYSTEM, actor_id=None)
    return await answer(
        session, meta, principal, order, "order.fulfilment.accept", shop=fulfilment.shop_id
    )


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
    return await answer(
        session, meta, principal, order, "order.fulfilment.move", shop=fulfilment.shop_id, to=to
    )


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
                ORDER_LINE_SHORT_JOB,
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
    await _shop_event(
        session, principal, fulfilment, actor, kind="line_short", reason=reason, data=data
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
    return await answer(session, meta, principal, order, ORDER_LINE_SHORT_JOB, **data)
