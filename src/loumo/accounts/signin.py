"""Sign-in with email and password: rate-limited, audited, the same answer for unknown emails.

Limits (see docs/security.md) are counted with the limiter's atomic `hit` *before* the password
is checked, so that parallel guesses cannot all slip past a check made before any of them was
counted:

- `LOGIN_PER_IP`: every sign-in from one client address;
- `LOGIN_PER_ACCOUNT_IP`: one account from one client address, the tight limit (a stranger
  elsewhere cannot lock the owner out with it); a successful sign-in clears it;
- `LOGIN_PER_ACCOUNT`: one account from anywhere, a looser ceiling on distributed guessing.

The account part of the keys is the email plus a fingerprint of the current password hash, so a
password change (a reset by the owner) starts every counter of the account afresh, from every
address, on any store and without scanning keys.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.context import AuthContext
from loumo.accounts.errors import InvalidCredentials
from loumo.accounts.models import User
from loumo.accounts.schemas import TokenPair
from loumo.accounts.sessions import open_session
from loumo.accounts.users import user_by_email
from loumo.core import security
from loumo.core.db import utcnow
from loumo.core.ratelimit import Rule

LOGIN_PER_IP = Rule("login-ip", "100/15 minutes")
LOGIN_PER_ACCOUNT_IP = Rule("login-account-ip", "5/15 minutes")
LOGIN_PER_ACCOUNT = Rule("login-account", "50/15 minutes")


def account_key(email: str, user: User | None) -> str:
    """The limiter key of an account: its email and a fingerprint of its password hash."""
    if user is None:
        return email
    fingerprint = hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]
    return f"{email}#{fingerprint}"


def account_ip_key(email: str, user: User | None, ip: str | None) -> str:
    return f"{account_key(email, user)}|{ip or 'unknown'}"


async def login(session: AsyncSession, ctx: AuthContext, email: str, password: str) -> TokenPair:
    """Check the password; unknown emails spend the same time and get the same answer."""
    await ctx.limiter.hit(LOGIN_PER_IP, ctx.meta.ip or "unknown")
    user = await user_by_email(session, email)
    per_client = account_ip_key(email, user, ctx.meta.ip)
    await ctx.limiter.hit(LOGIN_PER_ACCOUNT_IP, per_client)
    await ctx.limiter.hit(LOGIN_PER_ACCOUNT, account_key(email, user))
    new_hash = None
    if user is None:
        await security.dummy_verify(password)
        reason = "unknown_email"
    else:
        ok, new_hash = await security.verify_password(password, user.password_hash)
        reason = "" if ok and user.is_active else ("inactive" if ok else "wrong_password")
    if reason or user is None:
        await ctx.audit(
            session, "auth.login_failed", user=user, diff={"email": email, "reason": reason}
        )
        raise InvalidCredentials("The email or the password is wrong")
    await ctx.limiter.clear(LOGIN_PER_ACCOUNT_IP, per_client)
    if new_hash:
        user.password_hash = new_hash
    user.last_login_at = utcnow()
    pair = await open_session(session, ctx, user)
    await ctx.audit(session, "auth.login", actor_id=user.id, user=user)
    return pair
