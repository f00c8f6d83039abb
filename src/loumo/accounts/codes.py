"""One-time codes (email verification, password reset): a 6-digit code and a link token.

Both are stored hashed, expire, and die after `MAX_CODE_ATTEMPTS` wrong tries; issuing a new code
of a purpose retires the earlier ones.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.context import AuthContext
from loumo.accounts.errors import InvalidCode
from loumo.accounts.models import OneTimeCode, User
from loumo.accounts.users import user_by_email
from loumo.core import security
from loumo.core.db import as_utc, utcnow

MAX_CODE_ATTEMPTS = 5


async def new_code(
    session: AsyncSession, ctx: AuthContext, user: User, purpose: str, ttl: timedelta
) -> tuple[str, str]:
    """Retire earlier codes of `purpose` and store a new (code, link token), hashed."""
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
    code, token = security.new_code(), security.new_token()
    session.add(
        OneTimeCode(
            user_id=user.id,
            purpose=purpose,
            code_hash=security.hash_code(ctx.secret_key, purpose, user.id, code),
            token_hash=security.hash_token(token),
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return code, token


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
            expected = security.hash_code(ctx.secret_key, purpose, found.user_id, code or "")
            if not security.same_digest(expected, found.code_hash):
                found.attempts += 1
                await session.flush()
                raise InvalidCode("The code is wrong or has expired; request a new one")
    if found is None or as_utc(found.expires_at) <= now:
        raise InvalidCode("The code is wrong or has expired; request a new one")
    owner = await session.get(User, found.user_id)
    if owner is None or not owner.is_active:
        raise InvalidCode("The code is wrong or has expired; request a new one")
    return found, owner
