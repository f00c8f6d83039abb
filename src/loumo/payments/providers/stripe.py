"""Card payments through Stripe PaymentIntents (the `stripe` SDK, async over httpx).

The client confirms the card with the PaymentIntent's `client_secret`; Stripe tells us the
outcome by a webhook, verified with the SDK and confirmed by retrieving the PaymentIntent.
Our payment reference is the idempotency key of every creating call, so that a retry after a
lost answer never creates a second PaymentIntent or refund.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import stripe
import structlog

from loumo.core.settings import Settings
from loumo.payments.providers.base import (
    CallbackEvent,
    CallbackRejected,
    CallbackRequest,
    DepositRequest,
    Outcome,
    PaymentProvider,
    ProviderResult,
    RefundRequest,
)

logger = structlog.get_logger("loumo.payments.stripe")

_INTENT_STATES = {
    "succeeded": Outcome.SUCCEEDED,
    "canceled": Outcome.FAILED,
    "processing": Outcome.PENDING,
    "requires_payment_method": Outcome.PENDING,  # not tried yet, or a card was declined
    "requires_confirmation": Outcome.PENDING,
    "requires_action": Outcome.PENDING,
    "requires_capture": Outcome.PENDING,
}
_REFUND_STATES = {
    "succeeded": Outcome.SUCCEEDED,
    "pending": Outcome.PENDING,
    "requires_action": Outcome.PENDING,
    "failed": Outcome.FAILED,
    "canceled": Outcome.FAILED,
}


class StripeProvider(PaymentProvider):
    name = "stripe"

    def __init__(self, *, secret_key: str, webhook_secret: str, api_base: str | None = None):
        self.webhook_secret = webhook_secret
        self.client = stripe.StripeClient(
            secret_key,
            http_client=stripe.HTTPXClient(),
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProvider:
        if not settings.stripe_secret_key or not settings.stripe_webhook_secret:
            raise RuntimeError("stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET")
        return cls(
            secret_key=settings.stripe_secret_key.get_secret_value(),
            webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
            api_base=settings.stripe_api_base,
        )

    @staticmethod
    def _intent(intent: Any, reference: str) -> ProviderResult:
        outcome = _INTENT_STATES.get(str(intent.status), Outcome.UNKNOWN)
        error = getattr(intent, "last_payment_error", None)
        if intent.status == "requires_payment_method" and error is not None:
            # A declined card: this attempt failed (the order stays payable, by any method).
            outcome = Outcome.FAILED
        return ProviderResult(
            outcome,
            reference,
            amount=int(intent.amount),
            currency=str(intent.currency).upper(),
            failure_code=getattr(error, "code", None) if outcome is Outcome.FAILED else None,
            provider_transaction_id=str(intent.id),
            client_secret=getattr(intent, "client_secret", None),
        )

    async def initiate(self, request: DepositRequest) -> ProviderResult:
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params={
                    "amount": request.amount,
                    "currency": request.currency.lower(),
                    "automatic_payment_methods": {"enabled": True},
                    "description": request.description,
                    "metadata": request.metadata,
                },
                options={"idempotency_key": request.reference},
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            logger.warning("stripe_no_answer", error=type(exc).__name__)
            return ProviderResult(Outcome.UNKNOWN, request.reference)
        except stripe.StripeError as exc:
            return ProviderResult(
                Outcome.FAILED,
                request.reference,
                failure_code=str(exc.code or "stripe_error"),
                failure_message=str(exc.user_message or "refused by Stripe"),
            )
        return self._intent(intent, request.reference)

    async def fetch(self, reference: str) -> ProviderResult:
        return await self._retrieve(
            reference, "pi_", self.client.v1.payment_intents.retrieve_async, self._intent
        )

    @staticmethod
    async def _retrieve(
        reference: str,
        prefix: str,
        retrieve: Callable[[str], Awaitable[Any]],
        convert: Callable[[Any, str], ProviderResult],
    ) -> ProviderResult:
        """Retrieve an object by its Stripe id; UNKNOWN when we do not know that id yet."""
        if not reference.startswith(prefix):
            return ProviderResult(Outcome.UNKNOWN, reference)
        try:
            found = await retrieve(reference)
        except stripe.InvalidRequestError:
            return ProviderResult(Outcome.NOT_FOUND, reference)
        except stripe.StripeError:
            return ProviderResult(Outcome.UNKNOWN, reference)
        return convert(found, reference)

    @staticmethod
    def _refund(refund: Any, reference: str) -> ProviderResult:
        return ProviderResult(
            _REFUND_STATES.get(str(refund.status), Outcome.UNKNOWN),
            reference,
            amount=int(refund.amount),
            currency=str(refund.currency).upper(),
            failure_code=getattr(refund, "failure_reason", None),
            provider_transaction_id=str(refund.id),
        )

    async def refund(self, request: RefundRequest) -> ProviderResult:
        try:
            refund = await self.client.v1.refunds.create_async(
                params={"payment_intent": request.deposit_reference, "amount": request.amount},
                options={"idempotency_key": request.reference},
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError):
            return ProviderResult(Outcome.UNKNOWN, request.reference)
        except stripe.StripeError as exc:
            return ProviderResult(
                Outcome.FAILED, request.reference, failure_code=str(exc.code or "stripe_error")
            )
        return self._refund(refund, request.reference)

    async def fetch_refund(self, reference: str) -> ProviderResult:
        return await self._retrieve(
            reference, "re_", self.client.v1.refunds.retrieve_async, self._refund
        )

    def parse_callback(self, callback: CallbackRequest) -> CallbackEvent:
        signature = next((v for k, v in callback.headers if k.lower() == "stripe-signature"), None)
        try:
            event = stripe.Webhook.construct_event(callback.body, signature, self.webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise CallbackRejected(f"bad Stripe webhook: {exc}") from exc
        obj = event.data.object.to_dict()
        object_type = str(obj.get("object", ""))
        if object_type not in {"payment_intent", "refund"}:
            raise CallbackRejected(f"unhandled Stripe event {event.type}")
        return CallbackEvent(
            event_id=str(event.id),
            kind="deposit" if object_type == "payment_intent" else "refund",
            reference=str(obj.get("id")),
            status=str(event.type),
            payload={"type": event.type, "id": obj.get("id")},
        )
