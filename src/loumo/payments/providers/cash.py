"""Cash on delivery: no money moves online. The order waits; the delivery agent collects the
cash at closing (`loumo.payments.settlement.record_cash_payment`) and refunds are handed back in
cash and recorded."""

from __future__ import annotations

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


class CashProvider(PaymentProvider):
    name = "cash"

    async def initiate(self, request: DepositRequest) -> ProviderResult:
        return ProviderResult(Outcome.PENDING, request.reference)

    async def fetch(self, reference: str) -> ProviderResult:
        return ProviderResult(Outcome.PENDING, reference)

    async def refund(self, request: RefundRequest) -> ProviderResult:
        return ProviderResult(Outcome.SUCCEEDED, request.reference, amount=request.amount)

    async def fetch_refund(self, reference: str) -> ProviderResult:
        return ProviderResult(Outcome.SUCCEEDED, reference)

    def parse_callback(self, callback: CallbackRequest) -> CallbackEvent:
        raise CallbackRejected("cash has no callbacks")
