"""One-time codes (email verification, password reset): a 6-digit code and a link token.

Neither is stored, and neither travels through the job table: both are derived from the code's
row id with a key derived from `SECRET_KEY` (`derive_secrets`), and the row keeps only their
digests. Mail that carries them is sent by the `accounts.code_mail` job, whose payload names the
row (`{"code_id", "template"}`); the job derives the secrets at send time, and sends nothing for a
code that was used, retired or has expired in the meantime. A database (or job table) leak alone
reveals no code; the secret key alone neither (the row ids are random).

A code dies after `MAX_CODE_ATTEMPTS` tries: each try is counted by a conditional `UPDATE`
*before* the code is compared, so parallel guesses cannot overwrite each other's count; issuing
a new code of a purpose retires the earlier ones; spending one is a conditional `UPDATE` too, so
a code (or link) is spent once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.context import AuthContext
from loumo.accounts.errors import InvalidCode
from loumo.accounts.models import OneTimeCode, User
from loumo.accounts.users import user_by_email
from loumo.core import security
from loumo.core.db import as_utc, utcnow
from loumo.core.ids import new_id
from loumo.core.once import rowcount, stamp_once
from loumo.jobs.outbox import defer

MAX_CODE_ATTEMPTS = 5
CODE_MAIL_JOB = "accounts.code_mail"
_WRONG = "The code is wrong or has expired; request a new one"


def derive_secrets(secret_key: str, code_id: str) -> tuple[str, str]:
    """The (6-digit code, link token) of the one-time code row `code_id`.

    HMAC-SHA256 under a key derived from the app secret for this use only: the code is the
    digest reduced to six digits (the bias of 2**256 mod 10**6 is negligible), the token the
    other digest in URL-safe base64 (256 bits, like `security.new_token`).
    """
    key = hmac.new(secret_key.encode(), b"loumo/one-time-codes/v1", hashlib.sha256).digest()
    code_digest = hmac.new(key, f"code:{code_id}".encode(), hashlib.sha256).digest()
    token_digest = hmac.new(key, f"token:{code_id}".encode(), hashlib.sha256).digest()
    code = f"{int.from_bytes(code_digest, 'big') % 1_000_000:06d}"
    token = base64.urlsafe_b64encode(token_digest).rstrip(b"=").decode()
    return code, token


async def new_code(
    session: AsyncSession, ctx: AuthContext, user: User, purpose: str, ttl: timedelta
) -> OneTimeCode:
    """Retire earlier codes of `purpose` and store a new one (its digests only)."""
    now = utcnow()
    await session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.user_id == user.id,
            OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    row_id = new_id()
    code, token = derive_secrets(ctx.secret_key, row_id)
    row = OneTimeCode(
        id=row_id,
        user_id=user.id,
        purpose=purpose,
        code_hash=security.hash_code(ctx.secret_key, purpose, user.id, code),
        token_hash=security.hash_token(token),
        expires_at=now + ttl,
    )
    session.add(row)
    await session.flush()
    return row


async def mail_code(session: AsyncSession, row: OneTimeCode, template: str) -> None:
    """Defer the mail carrying `row`'s code and link, by reference (no secret in the job)."""
    await defer(session, CODE_MAIL_JOB, {"code_id": row.id, "template": template})


async def find_code(
    session: AsyncSession,
    ctx: AuthContext,
    purpose: str,
    *,
    token: str | None,
    email: str | None,
    code: str | None,
) -> tuple[OneTimeCode, User]:
    """The live code matching a link token, or an email and code (attempts counted).

    A wrong code raises `InvalidCode`, which keeps its change: the attempt stays counted.
    """
    now = utcnow()
    live = (
        OneTimeCode.purpose == purpose,
        OneTimeCode.used_at.is_(None),
        OneTimeCode.attempts < MAX_CODE_ATTEMPTS,
    )
    found: OneTimeCode | None
    if token:
        found = await session.scalar(
            select(OneTimeCode).where(OneTimeCode.token_hash == security.hash_token(token), *live)
        )
    else:
        user = await user_by_email(session, email or "")
        found = None
        if user is not None:
            found = await session.scalar(
                select(OneTimeCode)
                .where(OneTimeCode.user_id == user.id, *live)
                .order_by(OneTimeCode.created_at.desc())
                .limit(1)
            )
        if found is not None:
            # Count the try first, atomically: the row lock (PostgreSQL) or the write lock
            # (SQLite) orders parallel tries, and the sixth finds no row to count.
            counted = await session.execute(
                update(OneTimeCode)
                .where(OneTimeCode.id == found.id, *live)
                .values(attempts=OneTimeCode.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if rowcount(counted) != 1:
                raise InvalidCode(_WRONG)
            expected = security.hash_code(ctx.secret_key, purpose, found.user_id, code or "")
            if not security.same_digest(expected, found.code_hash):
                raise InvalidCode(_WRONG)
    if found is None or as_utc(found.expires_at) <= now:
        raise InvalidCode(_WRONG)
    owner = await session.get(User, found.user_id)
    if owner is None or not owner.is_active:
        raise InvalidCode(_WRONG)
    return found, owner


async def spend_code(session: AsyncSession, found: OneTimeCode) -> None:
    """Mark the code used, once: a parallel request that spent it first wins."""
    if not await stamp_once(session, OneTimeCode.used_at, found.id, utcnow()):
        raise InvalidCode(_WRONG, keep_changes=False)
