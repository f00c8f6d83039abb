"""Integer minor units to and from the decimal strings that providers speak."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from loumo.notifications.email import minor_units


def to_decimal_string(amount: int, currency: str) -> str:
    """4500 XAF -> "4500"; 1050 EUR -> "10.5" (no trailing zeros, as pawaPay asks)."""
    digits = minor_units(currency)
    value = Decimal(amount).scaleb(-digits)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def from_decimal_string(text: str, currency: str) -> int | None:
    """ "10.5" EUR -> 1050; None when it is not an amount in that currency."""
    try:
        value = Decimal(text).scaleb(minor_units(currency))
    except (InvalidOperation, TypeError):
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)
