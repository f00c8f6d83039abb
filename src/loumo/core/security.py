"""Secrets at rest and in transit: Argon2id passwords, access tokens, opaque tokens and codes.

Passwords are slow-hashed (Argon2id, rehashed when the parameters change). Opaque refresh and
link tokens carry 256 random bits, so a fast SHA-256 is enough to store them. Six-digit codes
have little entropy: they are stored as an HMAC keyed with the app secret, so that a database
leak alone does not reveal them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from loumo.core.auth import ACCESS_TOKEN_TYPE, ALGORITHM, AUDIENCE
from loumo.core.db import utcnow

ACCESS_TOKEN_TTL = timedelta(minutes=15)

password_hasher = PasswordHash((Argon2Hasher(),))
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    """Argon2id hash of `password`, computed off the event loop."""
    return await asyncio.to_thread(password_hasher.hash, password)


async def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Check `password`; the second value is a new hash when the stored one is outdated."""

    def _verify() -> tuple[bool, str | None]:
        try:
            return password_hasher.verify_and_update(password, password_hash)
        except UnknownHashError:
            return False, None

    return await asyncio.to_thread(_verify)


async def dummy_verify(password: str) -> None:
    """Spend the time of a real verification, so that unknown accounts answer as slowly."""
    await asyncio.to_thread(password_hasher.verify, password, _DUMMY_HASH)


def create_access_token(
    secret_key: str, user_id: str, session_id: str, ttl: timedelta = ACCESS_TOKEN_TTL
) -> str:
    """A signed access token for `user_id` within session (refresh family) `session_id`."""
    now = utcnow()
    claims: dict[str, Any] = {
        "sub": user_id,
        "sid": session_id,
        "iat": now,
        "exp": now + ttl,
        "typ": ACCESS_TOKEN_TYPE,
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def new_token() -> str:
    """An opaque, URL-safe token with 256 random bits."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The at-rest form of an opaque token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_code(digits: int = 6) -> str:
    """A uniformly random numeric one-time code, zero-padded."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def hash_code(secret_key: str, purpose: str, subject: str, code: str) -> str:
    """The at-rest form of a one-time code, bound to its purpose and subject."""
    message = f"{purpose}:{subject}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
