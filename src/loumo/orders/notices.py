"""Who is told about an order, and what: the buyer at each step, the shop's managers when a
fulfilment of theirs must be accepted, prepared or is cancelled. In-app and by email, in each
recipient's language (FR/EN): the in-app texts are the tables of `notices.toml`, the emails
the `notifications` templates they name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.data_files import read_data
from loumo.core.settings import get_settings
from loumo.notifications.email import LANGUAGES, format_money
from loumo.notifications.recipients import resolve_recipients
from loumo.notifications.schemas import Link, NotificationKind, Severity
from loumo.notifications.service import Recipient, notify
from loumo.orders.models import Fulfilment, Order, OrderItem
from loumo.orders.queries import items_of
from loumo.orders.states import OrderStatus
from loumo.shops.models import Shop, shop_managers


@dataclass(frozen=True)
class Notice:
    """What one step tells: the email template (None: in-app only), the severity, and the
    in-app (title, body) in each language, whose `{placeholders}` the step's words fill."""

    template: str | None
    severity: Severity
    fr: tuple[str, str]
    en: tuple[str, str]

    def texts(self, language: str) -> tuple[str, str]:
        return self.fr if language == "fr" else self.en


def _notices(steps: dict[str, dict[str, Any]]) -> dict[str, Notice]:
    return {
        step: Notice(n.get("template"), Severity(n["severity"]), tuple(n["fr"]), tuple(n["en"]))
        for step, n in steps.items()
    }


_TABLES = read_data("loumo.orders", "notices.toml")
CUSTOMER_NOTICES = _notices(_TABLES["customer"])
"""The buyer's notices, by step (an order status or another event)."""
MANAGER_NOTICES = _notices(_TABLES["manager"])
"""The shop managers' notices, by what their fulfilment needs."""


def order_link(order_id: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/orders/{order_id}"


def _by_language(recipients: Sequence[Recipient]) -> dict[str, list[Recipient]]:
    groups: dict[str, list[Recipient]] = {}
    for recipient in recipients:
        language = recipient.language if recipient.language in LANGUAGES else "fr"
        groups.setdefault(language, []).append(recipient)
    return groups


async def _tell(
    session: AsyncSession,
    order: Order,
    user_ids: Sequence[str],
    notice: Notice,
    words: Callable[[str], dict[str, Any]],
    email_context: Callable[[str], Awaitable[dict[str, Any]]],
    recipients: Sequence[Recipient] | None = None,
) -> None:
    """Send `notice` about `order` to `user_ids`, one notification per language group: the
    texts filled with `words(language)`, the email rendered with `email_context(language)`.
    `recipients`: those users, when the caller has read them."""
    if recipients is None:
        recipients = await resolve_recipients(session, user_ids)
    for language, group in _by_language(recipients).items():
        title, body = notice.texts(language)
        values = words(language)
        await notify(
            session,
            recipients=group,
            kind=NotificationKind.ORDER,
            severity=notice.severity,
            title=title.format(**values),
            body=body.format(**values).strip(),
            link=Link(type="order", id=order.id),
            email_template=notice.template,
            email_context=await email_context(language),
        )


async def receipt_lines(
    session: AsyncSession,
    order: Order,
    language: str,
    items: Sequence[OrderItem] | None = None,
) -> list[dict[str, Any]]:
    """The receipt's lines in `language`: of `items` when the caller has them, else read."""
    return [
        {
            "name": line.name_fr if language == "fr" else line.name_en,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "line_total": line.line_total,
        }
        for line in (items if items is not None else await items_of(session, order.id))
    ]


async def tell_customer(
    session: AsyncSession,
    order: Order,
    event: str,
    *,
    items: Sequence[OrderItem] | None = None,
    buyer: Recipient | None = None,
    **words: Any,
) -> None:
    """Tell the buyer, in-app and (for most steps) by email in their language; `items`, the
    order's lines when the caller has them (else they are read for a receipt); `buyer`, the
    buyer as a recipient when the caller has read them (else they are read)."""
    next_fr, next_en = (
        ("Elle attend votre paiement.", "It awaits your payment.")
        if order.status == OrderStatus.PENDING_PAYMENT
        else ("Les boutiques vont la confirmer.", "The shops will confirm it.")
    )

    def values(language: str) -> dict[str, Any]:
        return {
            "ref": order.reference,
            "total": format_money(order.total, order.currency, language),
            "amount": format_money(
                words.get("amount_minor", order.total), order.currency, language
            ),
            "reason": "",
            "points_fr": "",
            "points_en": "",
            "next_fr": next_fr,
            "next_en": next_en,
            **words,
        }

    async def context(language: str) -> dict[str, Any]:
        found: dict[str, Any] = {
            "order_reference": order.reference,
            "total": order.total,
            "amount": words.get("amount_minor", order.total),
            "currency": order.currency,
            "link": order_link(order.id),
        }
        if event == "received":
            found.update(
                lines=await receipt_lines(session, order, language, items),
                subtotal=order.subtotal,
                discount=order.discount,
                delivery_fee=order.delivery_fee,
                payment_method=order.payment_method,
            )
        if event == OrderStatus.CANCELLED:
            found["reason"] = str(words.get("reason", ""))
        return found

    recipients = None if buyer is None else [buyer]
    await _tell(
        session, order, [order.user_id], CUSTOMER_NOTICES[event], values, context, recipients
    )


async def tell_managers(
    session: AsyncSession,
    order: Order,
    fulfilment: Fulfilment,
    event: str,
    *,
    items: Sequence[OrderItem] | None = None,
) -> None:
    """Tell the managers of the fulfilment's shop (in-app and email) what to do about it;
    `items`, the order's lines when the caller has them (else they are read)."""
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
    every = items if items is not None else await items_of(session, order.id)
    lines = [line for line in every if line.fulfilment_id == fulfilment.id]

    def values(language: str) -> dict[str, Any]:
        return {"ref": order.reference, "shop": shop_name, "count": len(lines)}

    async def context(language: str) -> dict[str, Any]:
        return {
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
        }

    await _tell(session, order, manager_ids, MANAGER_NOTICES[event], values, context)
