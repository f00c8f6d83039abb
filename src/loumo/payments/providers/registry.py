"""Which provider serves which method, as PAYMENT_PROVIDERS enables them."""

from __future__ import annotations

from loumo.core.errors import BadRequest
from loumo.core.settings import Settings
from loumo.payments.providers.base import PaymentProvider
from loumo.payments.providers.cash import CashProvider
from loumo.payments.providers.pawapay import PawaPayProvider

METHOD_PROVIDERS = {"mobile_money": "pawapay", "card": "stripe", "cash": "cash"}
# PAYMENT_PROVIDERS names that enable each provider ("sandbox" is pawaPay on the sandbox).
_ENABLED_BY = {"pawapay": {"pawapay", "sandbox"}, "stripe": {"stripe"}, "cash": {"cash"}}


class PaymentMethodUnavailable(BadRequest):
    code, title = "payment_method_unavailable", "Payment method unavailable"


def is_enabled(settings: Settings, provider: str) -> bool:
    return bool(_ENABLED_BY.get(provider, set()) & settings.payment_provider_names)


def provider_for(settings: Settings, name: str) -> PaymentProvider:
    """The provider `name`, configured from settings; 400 when it is not enabled."""
    if not is_enabled(settings, name):
        raise PaymentMethodUnavailable(f"Payments by {name} are not enabled here")
    if name == "pawapay":
        return PawaPayProvider.from_settings(settings)
    if name == "stripe":
        # The Stripe SDK is large: imported only where cards are enabled and used.
        from loumo.payments.providers.stripe import StripeProvider

        return StripeProvider.from_settings(settings)
    return CashProvider()
