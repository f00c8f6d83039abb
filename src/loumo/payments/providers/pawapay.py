"""pawaPay Merchant API v2 (mobile money), spoken over httpx; the sandbox answers the same way.

PyPI's `pawapay` package is not a client of this API (another vendor's endpoints, synchronous
`requests`, untyped), so this is a small typed client of the endpoints Loumo uses:
deposits, their status, refunds, predict-provider and active-conf. Timeouts, network errors
and 5xx answers are `Outcome.UNKNOWN`: the caller fetches the status by `depositId`, which was
stored before the call, instead of initiating again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog

from loumo.core.settings import Settings
from loumo.payments.money import from_decimal_string, to_decimal_string
from loumo.payments.providers.base import (
    CallbackEvent,
    CallbackRejected,
    CallbackRequest,
    DepositRequest,
    Outcome,
    PaymentProvider,
    ProviderError,
    ProviderResult,
    RefundRequest,
)
from loumo.payments.providers.signatures import (
    PublicKey,
    SignatureError,
    load_public_key,
    verify_request,
)
from loumo.payments.sandbox.keys import sandbox_public_key

logger = structlog.get_logger("loumo.payments.pawapay")

# pawaPay's statuses of a deposit or refund it holds, mapped to what Loumo does with them.
# IN_RECONCILIATION means pawaPay itself is still finding out: still pending for us.
_STATES = {
    "ACCEPTED": Outcome.PENDING,
    "SUBMITTED": Outcome.PENDING,
    "ENQUEUED": Outcome.PENDING,
    "PROCESSING": Outcome.PENDING,
    "IN_RECONCILIATION": Outcome.PENDING,
    "COMPLETED": Outcome.SUCCEEDED,
    "FAILED": Outcome.FAILED,
}
DEPOSIT_OPERATION = "DEPOSIT"
REFUND_OPERATION = "REFUND"


@dataclass(frozen=True)
class Prediction:
    country: str  # ISO 3166-1 alpha-3
    operator: str  # pawaPay's provider code, e.g. MTN_MOMO_CMR
    phone: str  # normalised MSISDN, digits only


@dataclass(frozen=True)
class OperatorConf:
    operator: str
    currency: str
    min_amount: str | None
    max_amount: str | None
    status: str


_conf_cache: dict[tuple[str, str, str], tuple[float, list[OperatorConf]]] = {}


class PawaPayProvider(PaymentProvider):
    name = "pawapay"

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: float = 15.0,
        callback_public_key: PublicKey | None = None,
        conf_ttl: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.callback_public_key = callback_public_key
        self.conf_ttl = conf_ttl
        self.transport = transport

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> PawaPayProvider:
        token = settings.pawapay_api_token.get_secret_value() if settings.pawapay_api_token else ""
        key: PublicKey | None = None
        if settings.pawapay_callback_public_key:
            key = load_public_key(settings.pawapay_callback_public_key.encode())
        elif settings.sandbox_enabled and not settings.pawapay_base_url:
            key = sandbox_public_key(settings)
        return cls(
            base_url=settings.pawapay_url,
            token=token or "sandbox",
            timeout=settings.pawapay_timeout,
            callback_public_key=key,
            conf_ttl=settings.pawapay_active_conf_ttl,
            transport=transport,
        )

    # -- HTTP -----------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Response | None:
        """The response, or None when there was no usable answer (timeout, network, 5xx)."""
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self.timeout,
                transport=self.transport,
                headers={"Authorization": f"Bearer {self.token}"},
            ) as client:
                response = await client.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            logger.warning("pawapay_no_answer", path=path, error=type(exc).__name__)
            return None
        if response.status_code >= 500:
            logger.warning("pawapay_server_error", path=path, status=response.status_code)
            return None
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    # -- Toolkit --------------------------------------------------------------------------

    async def predict(self, phone: str) -> Prediction:
        """The operator and normalised number of `phone` (which must carry its country code)."""
        response = await self._call("POST", "/v2/predict-provider", json={"phoneNumber": phone})
        if response is None:
            raise ProviderError("PROVIDER_UNAVAILABLE", "mobile money is unavailable; try again")
        body = self._json(response)
        if response.status_code != 200 or not body.get("provider"):
            reason = body.get("failureReason") or {}
            raise ProviderError(
                "INVALID_PHONE_NUMBER",
                str(reason.get("failureMessage") or "not a mobile money number"),
            )
        return Prediction(str(body["country"]), str(body["provider"]), str(body["phoneNumber"]))

    async def operators(
        self, country: str, operation: str = DEPOSIT_OPERATION
    ) -> list[OperatorConf]:
        """The operators configured for `country` and `operation` (cached CONF_TTL seconds)."""
        key = (self.base_url, country, operation)
        cached = _conf_cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        response = await self._call(
            "GET", "/v2/active-conf", params={"country": country, "operationType": operation}
        )
        if response is None or response.status_code != 200:
            return []
        confs = list(_parse_active_conf(self._json(response), country, operation))
        _conf_cache[key] = (time.monotonic() + self.conf_ttl, confs)
        return confs

    async def check_available(
        self, country: str, operator: str, amount: int, currency: str
    ) -> None:
        """Refuse (ProviderError) an operator that is closed or an amount outside its limits.

        Without an answer from active-conf nothing is refused here: pawaPay then rejects the
        deposit itself if it must.
        """
        confs = await self.operators(country)
        if not confs:
            return
        conf = next((c for c in confs if c.operator == operator and c.currency == currency), None)
        if conf is None:
            raise ProviderError("PROVIDER_NOT_CONFIGURED", f"{operator} does not take {currency}")
        if conf.status != "OPERATIONAL":
            raise ProviderError(
                "PROVIDER_TEMPORARILY_UNAVAILABLE", f"{operator} is unavailable for now"
            )
        low = from_decimal_string(conf.min_amount, currency) if conf.min_amount else None
        high = from_decimal_string(conf.max_amount, currency) if conf.max_amount else None
        if (low is not None and amount < low) or (high is not None and amount > high):
            raise ProviderError(
                "AMOUNT_OUT_OF_BOUNDS",
                f"{operator} takes between {conf.min_amount} and {conf.max_amount} {currency}",
            )

    # -- Deposits and refunds -------------------------------------------------------------

    async def initiate(self, request: DepositRequest) -> ProviderResult:
        payload: dict[str, Any] = {
            "depositId": request.reference,
            "amount": to_decimal_string(request.amount, request.currency),
            "currency": request.currency,
            "payer": {
                "type": "MMO",
                "accountDetails": {"phoneNumber": request.phone, "provider": request.operator},
            },
        }
        if request.metadata:
            payload["metadata"] = [{k: v} for k, v in request.metadata.items()]
        response = await self._call("POST", "/v2/deposits", json=payload)
        return await self._initiation_result(response, request.reference, self.fetch)

    async def _initiation_result(
        self, response: httpx.Response | None, reference: str, fetch: Any
    ) -> ProviderResult:
        if response is None:
            return ProviderResult(Outcome.UNKNOWN, reference)
        body = self._json(response)
        status = body.get("status")
        if response.status_code == 200 and status == "ACCEPTED":
            return ProviderResult(Outcome.PENDING, reference, raw=body)
        if response.status_code == 200 and status == "DUPLICATE_IGNORED":
            # It already exists: what it became is the truth, never a second charge.
            result: ProviderResult = await fetch(reference)
            return result
        reason = body.get("failureReason") or {}
        return ProviderResult(
            Outcome.FAILED,
            reference,
            failure_code=str(reason.get("failureCode") or f"HTTP_{response.status_code}"),
            failure_message=str(reason.get("failureMessage") or "refused by pawaPay"),
            raw=body,
        )

    async def fetch(self, reference: str) -> ProviderResult:
        return await self._fetch(f"/v2/deposits/{reference}", reference)

    async def refund(self, request: RefundRequest) -> ProviderResult:
        payload = {
            "refundId": request.reference,
            "depositId": request.deposit_reference,
            "amount": to_decimal_string(request.amount, request.currency),
            "currency": request.currency,
        }
        response = await self._call("POST", "/v2/refunds", json=payload)
        return await self._initiation_result(response, request.reference, self.fetch_refund)

    async def fetch_refund(self, reference: str) -> ProviderResult:
        return await self._fetch(f"/v2/refunds/{reference}", reference)

    async def _fetch(self, path: str, reference: str) -> ProviderResult:
        response = await self._call("GET", path)
        if response is None or response.status_code != 200:
            return ProviderResult(Outcome.UNKNOWN, reference)
        body = self._json(response)
        if body.get("status") == "NOT_FOUND":
            return ProviderResult(Outcome.NOT_FOUND, reference, raw=body)
        data = body.get("data")
        if body.get("status") != "FOUND" or not isinstance(data, dict):
            return ProviderResult(Outcome.UNKNOWN, reference, raw=body)
        outcome = _STATES.get(str(data.get("status")), Outcome.UNKNOWN)
        currency = str(data.get("currency") or "")
        amount = from_decimal_string(str(data.get("amount")), currency) if currency else None
        reason = data.get("failureReason") or {}
        return ProviderResult(
            outcome,
            reference,
            amount=amount,
            currency=currency or None,
            failure_code=reason.get("failureCode") if outcome is Outcome.FAILED else None,
            failure_message=reason.get("failureMessage") if outcome is Outcome.FAILED else None,
            provider_transaction_id=data.get("providerTransactionId"),
            raw=data,
        )

    # -- Callbacks ------------------------------------------------------------------------

    def parse_callback(self, callback: CallbackRequest) -> CallbackEvent:
        if self.callback_public_key is not None:
            try:
                verify_request(
                    method=callback.method,
                    url=callback.url,
                    headers=callback.headers,
                    body=callback.body,
                    public_key=self.callback_public_key,
                )
            except SignatureError as exc:
                raise CallbackRejected(f"bad signature: {exc}") from exc
        try:
            payload = orjson.loads(callback.body)
        except orjson.JSONDecodeError as exc:
            raise CallbackRejected("the callback is not JSON") from exc
        kind = callback.kind
        id_field = "depositId" if kind == "deposit" else "refundId"
        reference, status = (
            payload.get(id_field) if isinstance(payload, dict) else None,
            payload.get("status") if isinstance(payload, dict) else None,
        )
        if not isinstance(reference, str) or not isinstance(status, str):
            raise CallbackRejected(f"the callback has no {id_field} or status")
        return CallbackEvent(
            event_id=f"{kind}:{reference}:{status}",
            kind=kind,
            reference=reference,
            status=status,
            payload=payload,
        )


def _parse_active_conf(
    body: dict[str, Any], country: str, operation: str
) -> Iterable[OperatorConf]:
    """Operators of `country` for `operation`, from an active-conf answer.

    Each operation type is either `{"operationType": "DEPOSIT", ...}` or `{"DEPOSIT": {...}}`
    (pawaPay's documentation shows both).
    """
    for entry in body.get("countries") or []:
        if not isinstance(entry, dict) or entry.get("country") != country:
            continue
        for provider in entry.get("providers") or []:
            for currency in provider.get("currencies") or []:
                for op in currency.get("operationTypes") or []:
                    conf = op.get(operation) if operation in op else op
                    if not isinstance(conf, dict):
                        continue
                    if op.get("operationType", operation) != operation:
                        continue
                    yield OperatorConf(
                        operator=str(provider.get("provider")),
                        currency=str(currency.get("currency")),
                        min_amount=conf.get("minTransactionLimit"),
                        max_amount=conf.get("maxTransactionLimit"),
                        status=str(conf.get("status") or "OPERATIONAL"),
                    )
