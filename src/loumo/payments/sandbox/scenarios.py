"""The sandbox's test numbers (Cameroon): the last digit of 23767000000N (MTN) or
23769000000N (Orange) chooses what happens. Any other valid number pays."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Scenario(StrEnum):
    SUCCESS = "success"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NOT_APPROVED = "not_approved"
    TIMEOUT = "timeout"  # stored, but the answer to the initiation never comes in time
    SERVER_ERROR = "server_error"  # 500 at initiation, nothing stored
    CALLBACK_DROPPED = "callback_dropped"
    CALLBACK_DUPLICATED = "callback_duplicated"
    SLOW = "slow"  # completes after PAWAPAY_SANDBOX_SLOW_SECONDS


TEST_NUMBERS: dict[str, Scenario] = {
    "000000": Scenario.SUCCESS,
    "000001": Scenario.INSUFFICIENT_FUNDS,
    "000002": Scenario.NOT_APPROVED,
    "000003": Scenario.TIMEOUT,
    "000004": Scenario.SERVER_ERROR,
    "000005": Scenario.CALLBACK_DROPPED,
    "000006": Scenario.CALLBACK_DUPLICATED,
    "000007": Scenario.SLOW,
}
FAILURES = {
    Scenario.INSUFFICIENT_FUNDS: ("INSUFFICIENT_BALANCE", "The payer does not have enough funds"),
    Scenario.NOT_APPROVED: ("PAYMENT_NOT_APPROVED", "The payer did not approve the payment"),
}
COUNTRY = "CMR"
CURRENCY = "XAF"
_MTN = re.compile(r"^2376(7\d|5[0-4]|8[0-3])\d{6}$")
_ORANGE = re.compile(r"^2376(9\d|5[5-9])\d{6}$")


@dataclass(frozen=True)
class Number:
    phone: str
    operator: str


def sanitize(raw: str) -> str:
    """pawaPay's rule: drop the leading +, whitespace and every non-digit."""
    return re.sub(r"\D", "", raw)


def predict(raw: str) -> Number | None:
    phone = sanitize(raw)
    if len(phone) == 9 and phone.startswith("6"):
        phone = "237" + phone
    if _MTN.match(phone):
        return Number(phone, "MTN_MOMO_CMR")
    if _ORANGE.match(phone):
        return Number(phone, "ORANGE_CMR")
    return None


def scenario_of(phone: str) -> Scenario:
    if phone[:5] in {"23767", "23769"} and phone[5:6] == "0":
        return TEST_NUMBERS.get(phone[-6:], Scenario.SUCCESS)
    return Scenario.SUCCESS
