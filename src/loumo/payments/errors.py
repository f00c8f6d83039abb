"""The errors of the payments rules (each a problem document with a stable `code`), and the one
that makes a job try again."""

from __future__ import annotations

from loumo.core.errors import BadRequest, Conflict, NotFound


class PaymentNotFound(NotFound):
    code, title = "not_found", "Payment not found"


class PaymentInFlight(Conflict):
    code, title = "payment_in_flight", "A payment of this order is under way"


class CashOnDelivery(Conflict):
    code, title = "cash_on_delivery", "Cash is collected on delivery"


class PhoneRequired(BadRequest):
    code, title = "phone_required", "A mobile money number is required"


class InvalidPhone(BadRequest):
    code, title = "invalid_phone", "Not a mobile money number"


class ProviderUnavailable(Conflict):
    code, title = "provider_unavailable", "Mobile money provider unavailable"


class PaymentNotRefundable(Conflict):
    code, title = "payment_not_refundable", "Payment not refundable"


class RefundExceedsPaid(Conflict):
    code, title = "refund_exceeds_paid", "Refund exceeds what was paid"


class CallbackNotAuthentic(BadRequest):
    code, title = "callback_rejected", "Callback rejected"


class NotCashOrder(Conflict):
    code, title = "not_cash_order", "Not a cash order"


class ProviderUnreachable(Exception):
    """No usable answer from the provider: the job is retried (the same references make a
    repeat harmless)."""
