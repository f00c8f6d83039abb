"""The interface every payment provider implements, and the plain values it speaks in.

A provider moves money and reports what it knows; it never decides an order's fate. Its
answers are deliberately coarse: `Outcome` says whether money is in, out, still moving, or
unknown (a timeout or a network error: the caller must ask again, never charge again).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What a provider says about a deposit or a refund."""

    PENDING = "pending"  # accepted, still moving (includes pawaPay's IN_RECONCILIATION)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # final: no money moved
    NOT_FOUND = "not_found"  # the provider never received it
    UNKNOWN = "unknown"  # no answer (timeout, network error, 5xx): ask again later


FINAL_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.FAILED})


@dataclass(frozen=True)
class DepositRequest:
    reference: str  # our id for the provider (pawaPay's depositId: a UUIDv4)
    amount: int  # minor units
    currency: str
    phone: str | None = None
    operator: str | None = None  # e.g. MTN_MOMO_CMR
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderResult:
    """A provider's answer about one deposit or refund."""

    outcome: Outcome
    reference: str
    amount: int | None = None
    currency: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    provider_transaction_id: str | None = None
    client_secret: str | None = None  # Stripe: what the client confirms the card with
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    reference: str  # our refund id for the provider (pawaPay's refundId: a UUIDv4)
    deposit_reference: str
    amount: int
    currency: str


@dataclass(frozen=True)
class CallbackRequest:
    """A provider's callback as it reached us over HTTP, for the provider to authenticate."""

    kind: str  # what the route takes: "deposit" | "refund" (pawaPay), "stripe"
    method: str
    url: str
    headers: Iterable[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class CallbackEvent:
    """An authenticated (or, without a configured key, merely parsed) provider notification.

    It only says which deposit or refund to look at: the status is always fetched again
    from the provider before anything is settled.
    """

    event_id: str  # unique per provider: what makes storing it idempotent
    kind: str  # "deposit" | "refund"
    reference: str
    status: str
    payload: dict[str, Any]


class ProviderError(Exception):
    """A provider refused a request for a reason a person can act on (bad phone, limits)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CallbackRejected(Exception):
    """A callback that is not authentic or not understood; nothing is stored or changed."""


class PaymentProvider(abc.ABC):
    name: str

    @abc.abstractmethod
    async def initiate(self, request: DepositRequest) -> ProviderResult:
        """Ask for the money. UNKNOWN means the answer was lost: fetch the status, never retry
        blindly."""

    @abc.abstractmethod
    async def fetch(self, reference: str) -> ProviderResult:
        """The provider's current word on a deposit."""

    @abc.abstractmethod
    async def refund(self, request: RefundRequest) -> ProviderResult:
        """Give money back for a succeeded deposit."""

    @abc.abstractmethod
    async def fetch_refund(self, reference: str) -> ProviderResult:
        """The provider's current word on a refund."""

    @abc.abstractmethod
    def parse_callback(self, callback: CallbackRequest) -> CallbackEvent:
        """Authenticate and parse a callback; raise `CallbackRejected` when it is not genuine."""
