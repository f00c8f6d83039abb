"""Fidelity points of an order: awarded once when it completes, taken back in proportion when
money for its goods is refunded (the ledger is `loumo.accounts.fidelity`).

The rate is the `fidelity_rate` business setting (`/settings` in `content`, a layer below
orders; its default is `FIDELITY_RATE` from the environment): points per 100 whole units of the
order's currency paid for goods, that is the lines net of their discount share and of what was
refunded, without the delivery fee. Callers read it and pass it in.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts import fidelity as ledger
from loumo.notifications.email import minor_units
from loumo.orders.models import Order, OrderItem
from loumo.orders.states import PaymentStatus

COMPLETED_REASON = "order_completed"
REASON_LENGTH = 50  # FidelityEntry.reason


def refund_reason(refund_id: str) -> str:
    """The ledger reason of the points one refund takes back (unique per order and refund); a
    refund id too long for the ledger's 50 characters is replaced by its digest."""
    reason = f"refund:{refund_id}"
    if len(reason) <= REASON_LENGTH:
        return reason
    return f"refund:{hashlib.sha256(refund_id.encode()).hexdigest()[: REASON_LENGTH - 7]}"


async def goods_paid(session: AsyncSession, order: Order) -> int:
    """What the buyer paid for goods and kept paid (minor units): every line's total less its
    discount share and what was refunded of it; 0 while the order is unpaid (cash not yet
    collected)."""
    if order.payment_status == PaymentStatus.UNPAID:
        return 0
    lines = await session.scalars(
        select(OrderItem)
        .where(OrderItem.order_id == order.id)
        .execution_options(populate_existing=True)
    )
    return sum(max(0, i.line_total - i.discount_share - i.refunded_amount) for i in lines)


def points_for(amount: int, currency: str, rate: Decimal) -> int:
    """Points earned for `amount` (minor units of `currency`) at `rate` points per 100 whole
    units, rounded down."""
    whole = Decimal(amount).scaleb(-minor_units(currency))
    return int((whole * rate / 100).to_integral_value(rounding=ROUND_FLOOR))


async def award_for_completion(session: AsyncSession, order: Order, *, rate: Decimal) -> int:
    """Award the points of a completed order at `rate` (the process's `FIDELITY_RATE`), once:
    the ledger is unique per order and reason. Returns the points awarded now (0 when none are
    due or they already were)."""
    points = points_for(await goods_paid(session, order), order.currency, rate)
    if points <= 0:
        return 0
    awarded = await ledger.award_points(
        session, order.user_id, points, order_id=order.id, reason=COMPLETED_REASON
    )
    return points if awarded else 0


async def take_back_for_refund(
    session: AsyncSession, order: Order, *, refund_id: str, goods_refunded: int
) -> int:
    """After a refund gave back `goods_refunded` of the goods (already counted on the lines),
    take back that share of the order's net points, once per refund.

    The share is the order's net points * refunded / goods paid before this refund (the same
    proportion of what was awarded, whatever the rate is now), rounded to the nearest point
    (half up) and never more than the net points: the last refund takes exactly what is left,
    and the order's points never go below zero. Returns the points taken back now.
    """
    if goods_refunded <= 0:
        return 0
    net = await ledger.order_points(session, order.id)
    if net <= 0:
        return 0  # not completed yet (completion awards on the net), or nothing left to take
    before = await goods_paid(session, order) + goods_refunded
    points = min(net, (2 * net * goods_refunded + before) // (2 * before))
    if points <= 0:
        return 0
    taken = await ledger.take_back_points(
        session, order.user_id, points, order_id=order.id, reason=refund_reason(refund_id)
    )
    return points if taken else 0
