"""The payment and refund state machines, in one place.

A payment moves `pending → processing → succeeded | failed | cancelled`, then
`partially_refunded | refunded`; a refund `pending → succeeded | failed`. Every move is one
conditional UPDATE whose WHERE clause is the rule (the current status is one the target may
follow), so that two racing callers (a callback and the reconciliation job) cannot both move
it: `moves.py`.
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
# Money in and some of it left to give back (an unclaimed payment is refunded by itself).
REFUNDABLE = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED})

# target -> the statuses it may follow
PAYMENT_MOVES: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PROCESSING: frozenset({PaymentStatus.PENDING}),
    PaymentStatus.SUCCEEDED: IN_FLIGHT,
    PaymentStatus.FAILED: IN_FLIGHT,
    PaymentStatus.CANCELLED: IN_FLIGHT,
    PaymentStatus.PARTIALLY_REFUNDED: REFUNDABLE,
    PaymentStatus.REFUNDED: REFUNDABLE,
}
# A refund moves once: `pending → succeeded | failed`.
REFUND_MOVES: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.SUCCEEDED: frozenset({RefundStatus.PENDING}),
    RefundStatus.FAILED: frozenset({RefundStatus.PENDING}),
}
