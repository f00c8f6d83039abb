"""What every move of an order does besides changing a status: the timeline, stock and the
promotion use (given back or sold exactly once), the derived status, and who is told."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import utcnow
from loumo.core.settings import get_settings
from loumo.notifications.email import LANGUAGES, format_money
from loumo.notifications.recipients import resolve_recipients
from loumo.notifications.schemas import Link, NotificationKind, Severity
from loumo.notifications.service import Recipient, notify
from loumo.orders.models import Fulfilment, Order, OrderEvent, OrderItem
from loumo.orders.states import (
    FOLLOWS_FULFILMENTS,
    Actor,
    OrderStatus,
    derived_status,
)
from loumo.promotions import service as promotions
from loumo.shops import ledger, reservations
from loumo.shops.models import Shop, shop_managers


async def add_event(
    session: AsyncSession,
    order_id: str,
    *,
    kind: str,
    actor: Actor,
    actor_id: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str = "",
    fulfilment_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """Write one timeline entry (who, when, from, to, why)."""
    event = OrderEvent(
        order_id=order_id,
        fulfilment_id=fulfilment_id,
        kind=kind,
        actor_id=actor_id,
        actor_kind=actor.value,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data=data or {},
    )
    session.add(event)
    await session.flush()
    return event


async def move_order(
    session: AsyncSession,
    order: Order,
    frm: str,
    to: str,
    *,
    actor: Actor,
    actor_id: str | None = None,
    reason: str = "",
    where: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """One conditional UPDATE from `frm` to `to` (plus `values`, if `where` also holds); False
    when another request moved the order first. The caller checked the state machine."""
    now = utcnow()
    moved = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == frm, *where)
        .values(status=to, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    order.status = to
    for key, value in values.items():
        setattr(order, key, value)
    await add_event(
        session,
        order.id,
        kind="status",
        actor=actor,
        actor_id=actor_id,
        from_status=frm,
        to_status=to,
        reason=reason,
    )
    return True


async def move_fulfilment_row(
    session: AsyncSession,
    fulfilment: Fulfilment,
    to: str,
    *,
    actor: Actor,
    actor_id: str | None,
    reason: str = "",
) -> bool:
    """One conditional UPDATE of a fulfilment from its current status to `to`, with its
    timeline entry; False when another request moved it first."""
    frm = fulfilment.status
    moved = await session.execute(
        update(Fulfilment)
        .where(Fulfilment.id == fulfilment.id, Fulfilment.status == frm)
        .values(status=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    fulfilment.status = to
    await add_event(
        session,
        fulfilment.order_id,
        kind="fulfilment",
        actor=actor,
        actor_id=actor_id,
        fulfilment_id=fulfilment.id,
        from_status=frm,
        to_status=to,
        reason=reason,
    )
    return True


async def items_of(session: AsyncSession, order_id: str) -> list[OrderItem]:
    rows = await session.scalars(
        select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
    )
    return list(rows)


async def fulfilments_of(session: AsyncSession, order_id: str) -> list[Fulfilment]:
    rows = await session.scalars(
        select(Fulfilment)
        .where(Fulfilment.order_id == order_id)
        .order_by(Fulfilment.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def sell_fulfilment(
    session: AsyncSession, fulfilment: Fulfilment, *, actor_id: str | None
) -> bool:
    """Turn the fulfilment's reserved stock into a sale, exactly once (the conditional UPDATE
    on `accepted_at` is the guard); False when it was already sold."""
    now = utcnow()
    taken = await session.execute(
        update(Fulfilment)
        .where(Fulfilment.id == fulfilment.id, Fulfilment.accepted_at.is_(None))
        .values(accepted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    fulfilment.accepted_at = now
    lines = await session.scalars(
        select(OrderItem).where(OrderItem.fulfilment_id == fulfilment.id).order_by(OrderItem.id)
    )
    for line in lines:
        await reservations.commit_sale(
            session,
            line.shop_id,
            line.variant_id,
            line.quantity,
            reason=f"order {line.order_id}",
            actor_user_id=actor_id,
        )
    return True


async def release_holds(session: AsyncSession, order: Order, *, actor_id: str | None) -> bool:
    """Give back what the order holds, exactly once: reserved stock (or, once sold, the units
    that were there), and the promotion use. The conditional UPDATE on `released_at` is the
    guard; False when another move already released them."""
    now = utcnow()
    taken = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.released_at.is_(None))
        .values(released_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    order.released_at = now
    sold = {f.id for f in await fulfilments_of(session, order.id) if f.accepted_at is not None}
    for line in await items_of(session, order.id):
        if line.fulfilment_id not in sold:
            await reservations.release(session, line.shop_id, line.variant_id, line.quantity)
            continue
        # Sold but never delivered: the units are still on the shelf, less what was short.
        back = line.quantity - line.short_quantity
        if back > 0:
            await ledger.apply_delta(
                session,
                line.shop_id,
                line.variant_id,
                back,
                kind="return",
                reason=f"order {order.reference} {order.status}",
                actor_user_id=actor_id,
            )
    if order.promotion_id is not None:
        await promotions.release_use(session, promotion_id=order.promotion_id, order_id=order.id)
    return True


async def follow_fulfilments(
    session: AsyncSession, order: Order, *, actor: Actor, actor_id: str | None
) -> str | None:
    """Once confirmed, the order's status is its least advanced live fulfilment: move it there.
    Returns the new status when it changed."""
    if order.status not in FOLLOWS_FULFILMENTS:
        return None
    target = derived_status(f.status for f in await fulfilments_of(session, order.id))
    if target is None or target == order.status:
        return None
    extra: dict[str, Any] = {"delivered_at": utcnow()} if target == OrderStatus.DELIVERED else {}
    if await move_order(
        session, order, order.status, target, actor=actor, actor_id=actor_id, **extra
    ):
        await tell_customer(session, order, target)
        return target
    return None


# --- who is told ------------------------------------------------------------------------------

# event -> (email template or None, severity, {language: (title, body)})
_CUSTOMER: dict[str, tuple[str | None, Severity, dict[str, tuple[str, str]]]] = {
    "received": (
        "order_received",
        Severity.INFO,
        {
            "fr": ("Commande {ref} reçue", "Total : {total}. {next_fr}"),
            "en": ("Order {ref} received", "Total: {total}. {next_en}"),
        },
    ),
    "paid": (
        "payment_received",
        Severity.SUCCESS,
        {
            "fr": ("Paiement reçu pour {ref}", "Nous avons reçu {total}. Merci !"),
            "en": ("Payment received for {ref}", "We received {total}. Thank you!"),
        },
    ),
    OrderStatus.CONFIRMED: (
        "order_confirmation",
        Severity.SUCCESS,
        {
            "fr": ("Commande {ref} confirmée", "Les boutiques ont accepté votre commande."),
            "en": ("Order {ref} confirmed", "The shops accepted your order."),
        },
    ),
    OrderStatus.PREPARING: (
        "order_preparing",
        Severity.INFO,
        {
            "fr": ("Commande {ref} en préparation", "Votre commande est en préparation."),
            "en": ("Order {ref} is being prepared", "Your order is being prepared."),
        },
    ),
    OrderStatus.READY: (
        None,
        Severity.INFO,
        {
            "fr": ("Commande {ref} prête", "Votre commande attend son livreur."),
            "en": ("Order {ref} is ready", "Your order is waiting for its courier."),
        },
    ),
    OrderStatus.OUT_FOR_DELIVERY: (
        "order_out_for_delivery",
        Severity.INFO,
        {
            "fr": ("Commande {ref} en route", "Votre commande est en cours de livraison."),
            "en": ("Order {ref} is on its way", "Your order is out for delivery."),
        },
    ),
    OrderStatus.DELIVERED: (
        "delivered",
        Severity.SUCCESS,
        {
            "fr": ("Commande {ref} livrée", "Votre commande a été livrée. Bon appétit !"),
            "en": ("Order {ref} delivered", "Your order was delivered. Enjoy!"),
        },
    ),
    OrderStatus.COMPLETED: (
        None,
        Severity.SUCCESS,
        {
            "fr": ("Commande {ref} terminée", "Merci d'avoir commandé sur Loumo ! {points_fr}"),
            "en": ("Order {ref} completed", "Thank you for ordering with Loumo! {points_en}"),
        },
    ),
    OrderStatus.CANCELLED: (
        "order_cancelled",
        Severity.WARNING,
        {
            "fr": ("Commande {ref} annulée", "Votre commande a été annulée. {reason}"),
            "en": ("Order {ref} cancelled", "Your order was cancelled. {reason}"),
        },
    ),
    OrderStatus.EXPIRED: (
        "order_expired",
        Severity.WARNING,
        {
            "fr": ("Commande {ref} expirée", "Sans paiement à temps, la commande a expiré."),
            "en": ("Order {ref} expired", "It was not paid in time, so the order expired."),
        },
    ),
    "refunded": (
        "refund_issued",
        Severity.INFO,
        {
            "fr": ("Remboursement pour {ref}", "{amount} vous sont remboursés."),
            "en": ("Refund for {ref}", "{amount} is refunded to you."),
        },
    ),
    "payment_failed": (
        "payment_failed",
        Severity.WARNING,
        {
            "fr": ("Paiement échoué pour {ref}", "Vous pouvez réessayer avant {expires}."),
            "en": ("Payment failed for {ref}", "You can try again before {expires}."),
        },
    ),
    "line_short": (
        None,
        Severity.WARNING,
        {
            "fr": ("Article manquant dans {ref}", "{item_fr} : {quantity} manquant(s). {money_fr}"),
            "en": ("Item missing from {ref}", "{item_en}: {quantity} missing. {money_en}"),
        },
    ),
}


def order_link(order_id: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/orders/{order_id}"


def _by_language(recipients: Sequence[Recipient]) -> dict[str, list[Recipient]]:
    groups: dict[str, list[Recipient]] = {}
    for recipient in recipients:
        language = recipient.language if recipient.language in LANGUAGES else "fr"
        groups.setdefault(language, []).append(recipient)
    return groups


async def receipt_lines(session: AsyncSession, order: Order, language: str) -> list[dict[str, Any]]:
    return [
        {
            "name": line.name_fr if language == "fr" else line.name_en,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "line_total": line.line_total,
        }
        for line in await items_of(session, order.id)
    ]


async def tell_customer(session: AsyncSession, order: Order, event: str, **words: Any) -> None:
    """Tell the buyer, in-app and (for most steps) by email in their language."""
    template, severity, texts = _CUSTOMER[event]
    recipients = await resolve_recipients(session, [order.user_id])
    for language, group in _by_language(recipients).items():
        values = {
            "ref": order.reference,
            "total": format_money(order.total, order.currency, language),
            "amount": format_money(
                words.get("amount_minor", order.total), order.currency, language
            ),
            "reason": "",
            "points_fr": "",
            "points_en": "",
            "next_fr": "Elle attend votre paiement."
            if order.status == OrderStatus.PENDING_PAYMENT
            else "Les boutiques vont la confirmer.",
            "next_en": "It awaits your payment."
            if order.status == OrderStatus.PENDING_PAYMENT
            else "The shops will confirm it.",
            **words,
        }
        title, body = texts[language]
        context: dict[str, Any] = {
            "order_reference": order.reference,
            "total": order.total,
            "amount": words.get("amount_minor", order.total),
            "currency": order.currency,
            "link": order_link(order.id),
        }
        if event == "received":
            context.update(
                lines=await receipt_lines(session, order, language),
                subtotal=order.subtotal,
                discount=order.discount,
                delivery_fee=order.delivery_fee,
                payment_method=order.payment_method,
            )
        if event == OrderStatus.CANCELLED:
            context["reason"] = str(words.get("reason", ""))
        await notify(
            session,
            recipients=group,
            kind=NotificationKind.ORDER,
            severity=severity,
            title=title.format(**values),
            body=body.format(**values).strip(),
            link=Link(type="order", id=order.id),
            email_template=template,
            email_context=context,
        )


_MANAGERS: dict[str, tuple[str, Severity, dict[str, tuple[str, str]]]] = {
    "prepare": (
        "fulfilment_to_prepare",
        Severity.INFO,
        {
            "fr": ("À préparer : commande {ref}", "{count} article(s) à préparer chez {shop}."),
            "en": ("To prepare: order {ref}", "{count} item(s) to prepare at {shop}."),
        },
    ),
    "accept": (
        "fulfilment_to_prepare",
        Severity.INFO,
        {
            "fr": ("À accepter : commande {ref}", "Commande payable à la livraison chez {shop}."),
            "en": ("To accept: order {ref}", "A cash-on-delivery order at {shop}."),
        },
    ),
    "cancelled": (
        "fulfilment_cancelled",
        Severity.WARNING,
        {
            "fr": ("Commande {ref} annulée", "Ne préparez pas ses articles chez {shop}."),
            "en": ("Order {ref} cancelled", "Do not prepare its items at {shop}."),
        },
    ),
}


async def tell_managers(
    session: AsyncSession, order: Order, fulfilment: Fulfilment, event: str
) -> None:
    """Tell the managers of the fulfilment's shop (in-app and email) what to do about it."""
    template, severity, texts = _MANAGERS[event]
    manager_ids = list(
        await session.scalars(
            select(shop_managers.c.user_id)
            .where(shop_managers.c.shop_id == fulfilment.shop_id)
            .order_by(shop_managers.c.user_id)
        )
    )
    if not manager_ids:
        return
    shop_name = await session.scalar(select(Shop.name).where(Shop.id == fulfilment.shop_id)) or ""
    lines = [
        line for line in await items_of(session, order.id) if line.fulfilment_id == fulfilment.id
    ]
    for language, group in _by_language(await resolve_recipients(session, manager_ids)).items():
        title, body = texts[language]
        values = {"ref": order.reference, "shop": shop_name, "count": len(lines)}
        await notify(
            session,
            recipients=group,
            kind=NotificationKind.ORDER,
            severity=severity,
            title=title.format(**values),
            body=body.format(**values),
            link=Link(type="order", id=order.id),
            email_template=template,
            email_context={
                "order_reference": order.reference,
                "shop_name": shop_name,
                "action": event,
                "lines": [
                    {
                        "name": line.name_fr if language == "fr" else line.name_en,
                        "quantity": line.quantity,
                    }
                    for line in lines
                ],
                "link": order_link(order.id),
            },
        )
