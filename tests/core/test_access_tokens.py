"""Access tokens: a token verified once is not verified again on every request, but it is
refused from its expiry on, and a tampered or foreign one is refused as before."""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import timedelta

import pytest

from loumo.core import auth
from loumo.core.errors import Unauthorized
from loumo.core.security import create_access_token

SECRET = "a-secret-key-of-the-tests-that-is-long-enough"


def test_a_verified_token_is_served_until_its_expiry_then_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = create_access_token(SECRET, "user-1", "session-1", ttl=timedelta(minutes=5))
    claims = auth.decode_access_token(token, SECRET)
    assert claims["sub"] == "user-1"
    assert auth.decode_access_token(token, SECRET) is claims  # from the verified ones
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        auth.decode_access_token(token, SECRET)
    assert (SECRET, token) not in auth._VERIFIED  # the next use verifies it again


def test_another_secret_or_a_changed_token_is_refused() -> None:
    token = create_access_token(SECRET, "user-2", "session-2")
    auth.decode_access_token(token, SECRET)
    with pytest.raises(Unauthorized, match="invalid"):
        auth.decode_access_token(token, SECRET + "-rotated")
    header, payload, signature = token.split(".")
    with pytest.raises(Unauthorized, match="invalid"):
        auth.decode_access_token(f"{header}.{payload}.{signature[:-2]}AA", SECRET)


def test_the_verified_tokens_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_TOKENS_KEPT", 3)
    monkeypatch.setattr(auth, "_VERIFIED", OrderedDict())
    tokens = [create_access_token(SECRET, f"user-{n}", "s") for n in range(5)]
    for token in tokens:
        auth.decode_access_token(token, SECRET)
    kept = [token for (_, token) in auth._VERIFIED]
    assert kept == tokens[-3:]
