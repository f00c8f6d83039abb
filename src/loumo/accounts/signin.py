"""Sign-in with email and password: rate-limited, audited, the same answer for unknown emails."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.context import AuthContext
from loumo.accounts.errors import InvalidCredentials
from loumo.accounts.schemas import TokenPair
from loumo.accounts.sessions import open_session
from loumo.accounts.users import user_by_email
from loumo.core import security
from loumo.core.db import utcnow
from loumo.core.ratelimit import Rule

LOGIN_PER_ACCOUNT = Rule("login-account", "5/15 minutes")
LOGIN_PER_IP = Rule("login-ip", "100/15 minutes")


async def login(session: AsyncSession, ctx: AuthContext, email: str, password: str) -> TokenPair:
    """Check the password; unknown emails spend the same time and get the same answer."""
    await ctx.limiter.hit(LOGIN_PER_IP, ctx.meta.ip or "unknown")
    await ctx.limiter.check(LOGIN_PER_ACCOUNT, email)
    user = await user_by_email(session, email)
    new_hash = None
    if user is None:
        await security.dummy_verify(password)
        reason = "unknown_email"
    else:
        ok, new_hash = await security.verify_password(password, user.password_hash)
        reason = "" if ok and user.is_active else ("inactive" if ok else "wrong_password")
    if reason or user is None:
        await ctx.limiter.record(LOGIN_PER_ACCOUNT, email)
        await ctx.audit(
            session, "auth.login_failed", user=user, diff={"email": email, "reason": reason}
        )
        raise InvalidCredentials("The email or the password is wrong")
    if new_hash:
        user.password_hash = new_hash
    user.last_login_at = utcnow()
    pair = await open_session(session, ctx, user)
    await ctx.audit(session, "auth.login", actor_id=user.id, user=user)
    return pair
