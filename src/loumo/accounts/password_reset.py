"""Forgotten passwords: email a reset link and code, then set a new password with either.

A reset is also how an owner takes back an account: it verifies the address, revokes every
session, and (the sign-in limits being keyed on the password hash, see `signin.py`) starts the
account's sign-in counters afresh.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.codes import find_code, mail_code, new_code, spend_code
from loumo.accounts.context import AuthContext
from loumo.accounts.mail import mail_user
from loumo.accounts.passwords import check_password_policy
from loumo.accounts.sessions import revoke_sessions
from loumo.accounts.users import user_by_email
from loumo.core import security
from loumo.core.db import utcnow
from loumo.core.ratelimit import Rule

PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose name, not a secret)
RESET_CODE_TTL = timedelta(minutes=30)

FORGOT_PER_EMAIL = Rule("forgot-email", "3/15 minutes")
FORGOT_PER_IP = Rule("forgot-ip", "30/hour")
RESET_PER_EMAIL = Rule("reset-email", "10/15 minutes")


async def forgot_password(session: AsyncSession, ctx: AuthContext, email: str) -> None:
    """Send a reset link and code to an active account; same answer for unknown emails."""
    await ctx.limiter.hit(FORGOT_PER_IP, ctx.meta.ip or "unknown")
    await ctx.limiter.hit(FORGOT_PER_EMAIL, email)
    user = await user_by_email(session, email)
    if user is None or not user.is_active:
        return
    row = await new_code(session, ctx, user, PASSWORD_RESET, RESET_CODE_TTL)
    await mail_code(session, row, "password_reset")
    await ctx.audit(session, "auth.password_reset_requested", user=user)


async def reset_password(
    session: AsyncSession,
    ctx: AuthContext,
    new_password: str,
    *,
    token: str | None = None,
    email: str | None = None,
    code: str | None = None,
) -> None:
    """Set a new password with a reset token or code; every session of the user is revoked."""
    if not token:
        await ctx.limiter.hit(RESET_PER_EMAIL, email or "")
    found, user = await find_code(session, ctx, PASSWORD_RESET, token=token, email=email, code=code)
    check_password_policy(new_password, user.email, field="new_password")
    await spend_code(session, found)
    user.password_hash = await security.hash_password(new_password)
    if user.email_verified_at is None:  # the reset proved the mailbox is theirs
        user.email_verified_at = utcnow()
    revoked = await revoke_sessions(session, "password_reset", user_id=user.id)
    await mail_user(session, user, "password_changed")
    await ctx.audit(
        session,
        "auth.password_reset",
        actor_id=user.id,
        user=user,
        diff={"password": "changed", "sessions_revoked": revoked},
    )
