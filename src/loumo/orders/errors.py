"""Every error the orders package raises, in one place (the state machines' own refusal,
`IllegalTransition`, lives with them in `states.py`)."""

from __future__ import annotations

from loumo.core.errors import BadRequest, Conflict, NotFound
from loumo.shops.errors import InsufficientStock as InsufficientStock
from loumo.zones.errors import AddressOutsideZones as AddressOutsideZones


class OrderNotFound(NotFound):
    code, title = "not_found", "Order not found"


# --- checkout ----------------------------------------------------------------------------------


class UnknownAddress(BadRequest):
    code, title = "unknown_address", "Unknown address"


class MixedCurrencies(BadRequest):
    code, title = "mixed_currencies", "Basket in several currencies"


class ContactPhoneRequired(BadRequest):
    code, title = "contact_phone_required", "Contact phone required"


class PriceChanged(Conflict):
    code, title = "price_changed", "Price changed"


# --- shops' moves ------------------------------------------------------------------------------


class FulfilmentNotAccepted(Conflict):
    code, title = "fulfilment_not_accepted", "Fulfilment not accepted"


class AlreadyAccepted(Conflict):
    code, title = "already_accepted", "Already accepted"


class NotCashOrder(Conflict):
    code, title = "not_cash_order", "Not a cash order"


class ShortQuantityExceeded(Conflict):
    code, title = "short_quantity_exceeded", "More than the line holds"


# --- payments and refunds ----------------------------------------------------------------------


class OrderNotPayable(Conflict):
    code, title = "order_not_payable", "Order not payable"


class RefundExceedsPaid(Conflict):
    code, title = "refund_exceeds_paid", "Refund exceeds what was paid"


class RefundQuantityExceeded(Conflict):
    code, title = "refund_quantity_exceeded", "Refund quantity exceeds what is left"


class UnknownOrderItem(BadRequest):
    code, title = "unknown_order_item", "Unknown order item"
