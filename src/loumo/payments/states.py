"""The payment and refund state machines, in one place.

A payment moves `pending → processing → succeeded | failed | cancelled`, then
`partially_refunded | refunded`. Every move is one conditional UPDATE whose WHERE clause is
the rule (the current status is one the target may follow), so that two racing callers (a
callback and the reconciliation job) cannot both move it.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"  # recorded; the provider may not have been asked yet
    PROCESSING = "processing"  # the provider accepted it and is moving the money
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


IN_FLIGHT = frozenset({PaymentStatus.PENDING, PaymentStatus.PROCESSING})
MONEY_IN = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
)

# target -> the statuses it may follow
PAYMENT_MOVES: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PROCESSING: frozenset({PaymentStatus.PENDING}),
    PaymentStatus.SUCCEEDED: IN_FLIGHT,
    PaymentStatus.FAILED: IN_FLIGHT,
    PaymentStatus.CANCELLED: IN_FLIGHT,
    PaymentStatus.PARTIALLY_REFUNDED: frozenset(
        {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED}
    ),
    PaymentStatus.REFUNDED: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED}),
}


def may_move(current: str, target: PaymentStatus) -> bool:
    return current in PAYMENT_MOVES.get(target, frozenset())
