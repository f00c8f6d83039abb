"""Stripe at its boundary: PaymentIntent objects for respx, and webhooks signed with the secret."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import orjson

WEBHOOK_SECRET = "whsec_test_secret_0123456789"
SECRET_KEY = "sk_test_0123456789"


def intent(pi_id: str, amount: int, status: str, currency: str = "xaf") -> dict[str, Any]:
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "currency": currency,
        "status": status,
        "client_secret": f"{pi_id}_secret_abc",
        "last_payment_error": None,
        "metadata": {},
    }


def refund(re_id: str, pi_id: str, amount: int, status: str = "succeeded") -> dict[str, Any]:
    return {
        "id": re_id,
        "object": "refund",
        "amount": amount,
        "currency": "xaf",
        "status": status,
        "payment_intent": pi_id,
    }


def signed_event(
    event_type: str, obj: dict[str, Any], *, secret: str = WEBHOOK_SECRET
) -> tuple[bytes, dict[str, str]]:
    """`(body, headers)` of a webhook as Stripe sends it (`Stripe-Signature: t=…,v1=…`)."""
    body = orjson.dumps(
        {
            "id": f"evt_{obj['id']}_{event_type.replace('.', '_')}",
            "object": "event",
            "type": event_type,
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "data": {"object": obj},
        }
    )
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}
