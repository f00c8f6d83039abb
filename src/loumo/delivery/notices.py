"""Who delivery tells: the agent when a delivery is assigned to them (in-app and email), the
customer when the agent sets off (in-app, with the estimated arrival and the agent's first
name; the order's own step sends the email), staff when a closing code locks (in-app and
email). The customer's order steps (out for delivery, delivered) are told by `orders`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.core.db import as_utc
from loumo.core.settings import get_settings
from loumo.delivery import DELIVERIES_WRITE
from loumo.delivery.models import Delivery, DeliveryAgent
from loumo.delivery.schemas import first_name
from loumo.notifications.email import LANGUAGES
from loumo.notifications.recipients import holders_of, resolve_recipients
from loumo.notifications.schemas import Link, NotificationKind, Severity
from loumo.notifications.service import notify
from loumo.orders.models import Order
from loumo.orders.queries import fulfilment_items
from loumo.shops.models import Shop


def delivery_link(delivery_id: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/deliveries/{delivery_id}"


def address_line(order: Order) -> str:
    snapshot = order.delivery_address or {}
    parts = [snapshot.get(k) for k in ("street", "locality", "description")]
    return ", ".join(str(p) for p in parts if p)


async def agent_user_id(session: AsyncSession, agent_id: str) -> str | None:
    return await session.scalar(select(DeliveryAgent.user_id).where(DeliveryAgent.id == agent_id))


async def agent_first_name(session: AsyncSession, agent_id: str) -> str:
    name = await session.scalar(
        select(User.name)
        .join(DeliveryAgent, DeliveryAgent.user_id == User.id)
        .where(DeliveryAgent.id == agent_id)
    )
    return first_name(name)


async def tell_agent(session: AsyncSession, delivery: Delivery, order: Order) -> None:
    """The agent learns of a delivery assigned to them: in-app and by email."""
    user_id = await agent_user_id(session, delivery.agent_id)
    if user_id is None:
        return
    shop = await session.scalar(select(Shop.name).where(Shop.id == delivery.shop_id)) or ""
    items = await fulfilment_items(session, delivery.fulfilment_id)
    where = address_line(order)
    for recipient in await resolve_recipients(session, [user_id]):
        language = recipient.language if recipient.language in LANGUAGES else "fr"
        lines = [
            {
                "name": item.name_fr if language == "fr" else item.name_en,
                "quantity": item.quantity - item.short_quantity,
            }
            for item in items
            if item.quantity > item.short_quantity  # a line short in full is not carried
        ]
        title = (
            f"Nouvelle livraison : {order.reference}"
            if language == "fr"
            else f"New delivery: {order.reference}"
        )
        body = (
            f"À prendre chez {shop}, à livrer : {where}."
            if language == "fr"
            else f"Pick up at {shop}, deliver to: {where}."
        )
        context: dict[str, Any] = {
            "order_reference": order.reference,
            "shop_name": shop,
            "address": where,
            "lines": lines,
            "scheduled_at": _when(delivery.scheduled_at),
            "link": delivery_link(delivery.id),
        }
        await notify(
            session,
            recipients=[recipient],
            kind=NotificationKind.DELIVERY,
            severity=Severity.INFO,
            title=title,
            body=body,
            link=Link(type="delivery", id=delivery.id),
            email_template="delivery_assigned",
            email_context=context,
        )


def _when(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else ""


async def _tell_customer(
    session: AsyncSession,
    order: Order,
    severity: Severity,
    title: dict[str, str],
    body: dict[str, str],
) -> None:
    """An in-app notice to the order's customer, linked to the order."""
    await notify(
        session,
        recipients=await resolve_recipients(session, [order.user_id]),
        kind=NotificationKind.DELIVERY,
        severity=severity,
        title=title,
        body=body,
        link=Link(type="order", id=order.id),
    )


async def tell_customer_started(session: AsyncSession, delivery: Delivery, order: Order) -> None:
    """The customer learns who is coming and when (in-app)."""
    agent = await agent_first_name(session, delivery.agent_id)
    eta = _when(delivery.eta)
    await _tell_customer(
        session,
        order,
        Severity.INFO,
        title={
            "fr": f"{agent or 'Votre livreur'} arrive : {order.reference}",
            "en": f"{agent or 'Your courier'} is on the way: {order.reference}",
        },
        body={
            "fr": f"Arrivée estimée : {eta}. Donnez votre code de livraison à l'arrivée.",
            "en": f"Estimated arrival: {eta}. Give your delivery code on arrival.",
        },
    )


async def tell_customer_failed(
    session: AsyncSession, delivery: Delivery, order: Order, reason: str
) -> None:
    """The customer learns the attempt failed (in-app)."""
    await _tell_customer(
        session,
        order,
        Severity.WARNING,
        title={
            "fr": f"Livraison manquée : {order.reference}",
            "en": f"Delivery attempt failed: {order.reference}",
        },
        body={
            "fr": f"Motif : {reason}. Notre équipe vous recontacte.",
            "en": f"Reason: {reason}. Our team will get back to you.",
        },
    )


async def alert_staff_locked(session: AsyncSession, delivery: Delivery, order: Order) -> None:
    """Staff who manage deliveries learn a closing code locked (in-app and email)."""
    staff = await holders_of(session, DELIVERIES_WRITE)
    if not staff:
        return
    await notify(
        session,
        recipients=await resolve_recipients(session, staff),
        kind=NotificationKind.DELIVERY,
        severity=Severity.CRITICAL,
        title={
            "fr": f"Code de livraison bloqué : {order.reference}",
            "en": f"Delivery code locked: {order.reference}",
        },
        body={
            "fr": "Cinq codes erronés. Vérifiez, puis émettez un nouveau code.",
            "en": "Five wrong codes. Check, then reissue the code.",
        },
        link=Link(type="delivery", id=delivery.id),
        email_template="delivery_code_locked",
        email_context={"order_reference": order.reference, "link": delivery_link(delivery.id)},
    )
