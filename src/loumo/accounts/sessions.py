"""Sign-in sessions and their rotating refresh tokens: open, refresh, revoke, log out, purge.

A session is the family of refresh tokens rotated from one login; revoking it ends them all
(and its access tokens, which name it). Checking a password to open one is `signin.py`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.context import AuthContext
from loumo.accounts.errors import InvalidRefreshToken
from loumo.accounts.models import AuthSession, OneTimeCode, RefreshToken, User
from loumo.accounts.schemas import TokenPair
from loumo.core import security
from loumo.core.db import as_utc, utcnow
from loumo.core.once import rowcount, stamp_once

REFRESH_TOKEN_TTL = timedelta(days=30)


async def _issue_pair(session: AsyncSession, ctx: AuthContext, auth: AuthSession) -> TokenPair:
    raw = security.new_token()
    session.add(
        RefreshToken(
            session_id=auth.id,
            token_hash=security.hash_token(raw),
            expires_at=utcnow() + REFRESH_TOKEN_TTL,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=security.create_access_token(ctx.secret_key, auth.user_id, auth.id),
        refresh_token=raw,
        expires_in=int(security.ACCESS_TOKEN_TTL.total_seconds()),
    )


async def open_session(session: AsyncSession, ctx: AuthContext, user: User) -> TokenPair:
    """A new sign-in for `user`: a session (token family) and its first token pair."""
    auth = AuthSession(user_id=user.id, ip=ctx.meta.ip, user_agent=ctx.meta.user_agent)
    session.add(auth)
    await session.flush()
    return await _issue_pair(session, ctx, auth)


async def revoke_sessions(
    session: AsyncSession, reason: str, *, user_id: str | None = None, session_id: str | None = None
) -> int:
    """Revoke every live session of a user (or one session); access tokens die at once."""
    query = update(AuthSession).where(AuthSession.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(AuthSession.user_id == user_id)
    if session_id is not None:
        query = query.where(AuthSession.id == session_id)
    result = await session.execute(
        query.values(revoked_at=utcnow(), revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    return rowcount(result)


async def refresh(session: AsyncSession, ctx: AuthContext, raw: str) -> TokenPair:
    """Rotate: the token is spent and a new pair issued; a spent token revokes its family."""
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == security.hash_token(raw))
    )
    if token is None:
        raise InvalidRefreshToken("The refresh token is not valid")
    auth = await session.get(AuthSession, token.session_id)
    user = await session.get(User, auth.user_id) if auth else None
    if auth is None or user is None or auth.revoked_at is not None or not user.is_active:
        raise InvalidRefreshToken("The refresh token is not valid")
    now = utcnow()
    if not await stamp_once(session, RefreshToken.used_at, token.id, now):
        await revoke_sessions(session, "refresh_reuse", session_id=auth.id)
        await ctx.audit(session, "auth.refresh_reuse", actor_id=user.id, user=user)
        raise InvalidRefreshToken("The refresh token was already used; the session is revoked")
    if as_utc(token.expires_at) <= now:
        raise InvalidRefreshToken("The refresh token has expired")
    auth.last_used_at = now
    return await _issue_pair(session, ctx, auth)


async def logout(session: AsyncSession, ctx: AuthContext, raw: str) -> None:
    """Revoke the session the refresh token belongs to (answering the same if unknown)."""
    auth = await session.scalar(
        select(AuthSession)
        .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
        .where(RefreshToken.token_hash == security.hash_token(raw))
    )
    if auth is not None and auth.revoked_at is None:
        await revoke_sessions(session, "logout", session_id=auth.id)
        await ctx.audit(session, "auth.logout", actor_id=auth.user_id, diff={"session_id": auth.id})


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    sessions: int
    refresh_tokens: int
    codes: int


async def purge_auth_records(
    session: AsyncSession, *, retention: timedelta, now: datetime | None = None
) -> PurgeCounts:
    """Delete what has been dead for longer than `retention`.

    - sessions revoked before the cutoff, and live ones whose last refresh token expired before
      it (a session's tokens last `REFRESH_TOKEN_TTL` from its last use), with their tokens;
    - refresh tokens of the remaining sessions that expired before the cutoff (spent tokens
      are kept until then, so that a replayed one still revokes its family);
    - one-time codes used or expired before the cutoff.
    """
    cutoff = (now or utcnow()) - retention
    dead = (AuthSession.revoked_at < cutoff) | (
        AuthSession.revoked_at.is_(None) & (AuthSession.last_used_at < cutoff - REFRESH_TOKEN_TTL)
    )
    tokens_of_dead = await session.execute(
        delete(RefreshToken).where(RefreshToken.session_id.in_(select(AuthSession.id).where(dead)))
    )
    sessions = await session.execute(delete(AuthSession).where(dead))
    tokens = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < cutoff))
    codes = await session.execute(
        delete(OneTimeCode).where(
            (OneTimeCode.expires_at < cutoff) | (OneTimeCode.used_at < cutoff)
        )
    )
    return PurgeCounts(
        sessions=rowcount(sessions),
        refresh_tokens=rowcount(tokens_of_dead) + rowcount(tokens),
        codes=rowcount(codes),
    )
