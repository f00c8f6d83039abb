"""Registration and email verification (by code or link), and resending the code.

An unverified account can sign in, read `/me`, verify, resend and sign out, nothing else
(`loumo.core.auth.CurrentPrincipal` answers 403 `email_not_verified`). Verifying revokes every
earlier session of the account, so whoever registered someone else's address loses the sessions
they opened with it; a caller signed in to that account when verifying gets a fresh session in
the answer. Registering an address whose account exists but was never verified answers as a
fresh registration does, and mails the address a code to take the account over (a password
reset, which verifies the address and signs everyone else out).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.codes import find_code, mail_code, new_code, spend_code
from loumo.accounts.context import AuthContext
from loumo.accounts.mail import mail_user
from loumo.accounts.models import User, UserRole
from loumo.accounts.password_reset import PASSWORD_RESET, RESET_CODE_TTL
from loumo.accounts.passwords import check_password_policy
from loumo.accounts.schemas import TokenPair, UserCreate
from loumo.accounts.sessions import open_session, revoke_sessions
from loumo.accounts.users import user_by_email
from loumo.core import permissions as perms
from loumo.core import security
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.errors import RateLimited
from loumo.core.ratelimit import Rule

VERIFY_EMAIL = "verify_email"
VERIFY_CODE_TTL = timedelta(hours=24)

REGISTER_PER_IP = Rule("register-ip", "20/hour")
# Mails to the owner of a pending (unverified) address when someone registers it again: past
# this the mail is skipped silently (a 429 would tell that the address is taken).
CLAIM_PER_EMAIL = Rule("claim-email", "3/hour")
VERIFY_PER_EMAIL = Rule("verify-email", "10/15 minutes")
RESEND_PER_EMAIL = Rule("resend-email", "3/15 minutes")
RESEND_PER_IP = Rule("resend-ip", "30/hour")


async def _send_verification(session: AsyncSession, ctx: AuthContext, user: User) -> None:
    row = await new_code(session, ctx, user, VERIFY_EMAIL, VERIFY_CODE_TTL)
    await mail_code(session, row, "verify_email")


async def _offer_claim(session: AsyncSession, ctx: AuthContext, user: User) -> None:
    """Mail the owner of a pending address a code to take the account (a password reset)."""
    try:
        await ctx.limiter.hit(CLAIM_PER_EMAIL, user.email)
    except RateLimited:
        return
    row = await new_code(session, ctx, user, PASSWORD_RESET, RESET_CODE_TTL)
    await mail_code(session, row, "account_pending_claim")


async def register(
    session: AsyncSession, ctx: AuthContext, data: UserCreate, default_language: str
) -> None:
    """Create a customer and send the verification; a known email gets the same answer."""
    await ctx.limiter.hit(REGISTER_PER_IP, ctx.meta.ip or "unknown")
    check_password_policy(data.password, data.email)
    password_hash = await security.hash_password(data.password)
    existing = await user_by_email(session, data.email)
    if existing is not None:
        pending = existing.is_active and existing.email_verified_at is None
        if pending:
            await _offer_claim(session, ctx, existing)
        await ctx.audit(
            session,
            "auth.register_existing_email",
            user=existing,
            diff={"email": data.email, "pending": pending},
        )
        return
    user = User(
        email=data.email,
        name=data.name,
        phone=data.phone,
        language=data.language or default_language,
        password_hash=password_hash,
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:  # registered concurrently: same answer as a known email
        return
    session.add(UserRole(user_id=user.id, role=perms.CUSTOMER))
    await _send_verification(session, ctx, user)
    await ctx.audit(session, "auth.register", actor_id=user.id, user=user)


async def verify_email(
    session: AsyncSession,
    ctx: AuthContext,
    *,
    token: str | None = None,
    email: str | None = None,
    code: str | None = None,
    caller: Principal | None = None,
) -> TokenPair | None:
    """Mark the email verified with the link token or the 6-digit code (single use).

    The first verification revokes every earlier session of the account; when `caller` is
    signed in to that account, the answer is a fresh session for it (None otherwise).
    """
    if not token:
        await ctx.limiter.hit(VERIFY_PER_EMAIL, email or "")
    found, user = await find_code(session, ctx, VERIFY_EMAIL, token=token, email=email, code=code)
    await spend_code(session, found)
    if user.email_verified_at is not None:
        await ctx.audit(session, "auth.email_verified", actor_id=user.id, user=user)
        return None
    user.email_verified_at = utcnow()
    revoked = await revoke_sessions(session, "email_verified", user_id=user.id)
    pair = None
    if caller is not None and caller.user_id == user.id:
        pair = await open_session(session, ctx, user)
    await mail_user(session, user, "welcome")
    await ctx.audit(
        session,
        "auth.email_verified",
        actor_id=user.id,
        user=user,
        diff={"sessions_revoked": revoked, "new_session": pair is not None},
    )
    return pair


async def resend_verification(session: AsyncSession, ctx: AuthContext, email: str) -> None:
    """Send a fresh code to an unverified account; the answer never says whether it exists."""
    await ctx.limiter.hit(RESEND_PER_IP, ctx.meta.ip or "unknown")
    await ctx.limiter.hit(RESEND_PER_EMAIL, email)
    user = await user_by_email(session, email)
    if user is not None and user.is_active and user.email_verified_at is None:
        await _send_verification(session, ctx, user)
