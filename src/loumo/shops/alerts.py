"""Low-stock alerts: the `stock.low` job tells a shop's managers and stock staff.

The job is deferred by `ledger.py` once per crossing below a stock's threshold.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Product, Variant
from loumo.notifications.email import LANGUAGES
from loumo.notifications.recipients import holders_of, resolve_recipients
from loumo.notifications.schemas import Link, NotificationKind, Severity
from loumo.notifications.service import Recipient, notify
from loumo.shops.ledger import stock_key
from loumo.shops.managers import manager_ids
from loumo.shops.models import Shop, Stock
from loumo.shops.permissions import STOCK_WRITE

_LOW_STOCK_TITLE = {
    "fr": "Stock bas : {product} chez {shop}",
    "en": "Low stock: {product} at {shop}",
}
_LOW_STOCK_BODY = {
    "fr": "Il en reste {available} (seuil {threshold}).",
    "en": "{available} left (threshold {threshold}).",
}


async def alert_low_stock(
    session: AsyncSession, shop_id: str, variant_id: str, *, base_url: str
) -> list[str]:
    """Tell the shop's managers (in-app and email) and stock staff (in-app) that a stock is low.

    Runs once per crossing whatever the number of deliveries: a conditional UPDATE marks the
    crossing notified, so a repeated or concurrent run finds nothing to do. Nothing is sent
    when the stock was restocked above its threshold (or the threshold removed) meanwhile.
    Returns the ids of the users notified.
    """
    claimed = (
        await session.execute(
            update(Stock)
            .where(
                stock_key(shop_id, variant_id),
                Stock.is_low,
                Stock.low_stock_alerted.is_(True),
                Stock.low_stock_notified.is_(False),
            )
            .values(low_stock_notified=True, updated_at=Stock.updated_at)
            .returning(Stock.quantity - Stock.reserved, Stock.threshold)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if claimed is None:
        return []
    available, threshold = int(claimed[0]), int(claimed[1])
    names = (
        await session.execute(
            select(Shop.name, Variant.name, Product.name_fr, Product.name_en)
            .join(Stock, Stock.shop_id == Shop.id)
            .join(Variant, Variant.id == Stock.variant_id)
            .join(Product, Product.id == Variant.product_id)
            .where(stock_key(shop_id, variant_id))
        )
    ).one()
    shop_name, variant_name = names[0], names[1]
    product_names = {"fr": f"{names[2]} ({variant_name})", "en": f"{names[3]} ({variant_name})"}

    managers = await manager_ids(session, shop_id)
    managing = set(managers)
    staff = [u for u in await holders_of(session, STOCK_WRITE) if u not in managing]
    recipients = await resolve_recipients(session, managers)
    # Stock staff oversee every shop: the in-app notice, without an email per crossing.
    recipients += [
        dataclasses.replace(r, email=None) for r in await resolve_recipients(session, staff)
    ]
    link = f"{base_url.rstrip('/')}/shops/{shop_id}/stock/{variant_id}"
    by_language: dict[str, list[Recipient]] = {}
    for recipient in recipients:
        language = recipient.language if recipient.language in LANGUAGES else "fr"
        by_language.setdefault(language, []).append(recipient)
    for language, group in by_language.items():
        words = {"product": product_names[language], "shop": shop_name}
        numbers = {"available": available, "threshold": threshold}
        await notify(
            session,
            recipients=group,
            kind=NotificationKind.STOCK,
            severity=Severity.CRITICAL if available <= 0 else Severity.WARNING,
            title=_LOW_STOCK_TITLE[language].format(**words),
            body=_LOW_STOCK_BODY[language].format(**numbers),
            link=Link(type="shop", id=shop_id),
            email_template="low_stock",
            email_context={
                "shop_name": shop_name,
                "product_name": product_names[language],
                "link": link,
                **numbers,
            },
        )
    return [r.user_id for r in recipients]
