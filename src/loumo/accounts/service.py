"""Accounts rules: registration, verification, sessions, passwords, profile, staff admin.

Services never see `Request`: routers pass an `AuthContext` (secret key, rate limiter, links,
caller's address). Failures that must leave a trace (a failed login's audit row, a wrong code's
attempt count) raise errors marked `keep_changes`: the router commits what was flushed and then
answers the error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import (
    Address,
    AuthSession,
    OneTimeCode,
    RefreshToken,
    Role,
    RolePermission,
    User,
    UserRole,
)
from loumo.accounts.schemas import (
    AddressCreate,
    AddressUpdate,
    PermissionRead,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    TokenPair,
    UserAdminRead,
    UserAdminUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)
from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core import permissions as perms
from loumo.core import security
from loumo.core.auth import Principal
from loumo.core.db import utcnow
from loumo.core.errors import AppError, BadRequest, Conflict, NotFound, PermissionDenied
from loumo.core.errors import Unauthorized as _Unauthorized
from loumo.core.pagination import after_position, decode_cursor, position_of
from loumo.core.ratelimit import RateLimiter, Rule
from loumo.jobs.outbox import defer
from loumo.notifications.service import Recipient
from loumo.zones import service as zones_service

REFRESH_TOKEN_TTL = timedelta(days=30)
VERIFY_CODE_TTL = timedelta(hours=24)
RESET_CODE_TTL = timedelta(minutes=30)
MAX_CODE_ATTEMPTS = 5
MIN_PASSWORD_LENGTH = 10

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose name, not a secret)

LOGIN_PER_ACCOUNT = Rule("login-account", "5/15 minutes")
LOGIN_PER_IP = Rule("login-ip", "100/15 minutes")
REGISTER_PER_IP = Rule("register-ip", "20/hour")
VERIFY_PER_EMAIL = Rule("verify-email", "10/15 minutes")
RESEND_PER_EMAIL = Rule("resend-email", "3/15 minutes")
RESEND_PER_IP = Rule("resend-ip", "30/hour")
FORGOT_PER_EMAIL = Rule("forgot-email", "3/15 minutes")
FORGOT_PER_IP = Rule("forgot-ip", "30/hour")
RESET_PER_EMAIL = Rule("reset-email", "10/15 minutes")

PrincipalEnricher = Callable[[AsyncSession, Principal], Awaitable[Principal]]


# -- errors -----------------------------------------------------------------------------------


class InvalidCredentials(_Unauthorized):
    code, title = "invalid_credentials", "Invalid credentials"
    keep_changes = True


class InvalidRefreshToken(_Unauthorized):
    code, title = "invalid_refresh_token", "Invalid refresh token"
    keep_changes = True


class InvalidCode(BadRequest):
    code, title = "invalid_code", "Invalid or expired code"
    keep_changes = True


class WeakPassword(AppError):
    status, code, title = 422, "weak_password", "Password too weak"


class UnknownReference(AppError):
    status, code, title = 422, "unknown_reference", "Unknown reference"


class BuiltinRole(Conflict):
    code, title = "builtin_role", "Built-in roles cannot be changed"


# -- context ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What the accounts rules need from the running app and the request."""

    secret_key: str
    limiter: RateLimiter
    public_base_url: str
    meta: RequestMeta

    def audit(
        self,
        session: AsyncSession,
        action: str,
        *,
        actor_id: str | None = None,
        user: User | None = None,
        diff: dict[str, Any] | None = None,
    ) -> Awaitable[Any]:
        return audit.record(
            session,
            self.meta,
            action,
            actor_id=actor_id,
            entity_type="user" if user else None,
            entity_id=user.id if user else None,
            diff=diff,
        )


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- passwords --------------------------------------------------------------------------------


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("loumo.accounts").joinpath("common_passwords.txt").read_text()
    lines = (line.strip().casefold() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check_password_policy(password: str, email: str, field: str = "password") -> None:
    """Length >= 10, not a common password, not the email (or its local part)."""
    folded = password.casefold()
    problem = None
    if len(password) < MIN_PASSWORD_LENGTH:
        problem = f"use at least {MIN_PASSWORD_LENGTH} characters"
    elif folded in common_passwords():
        problem = "this password is too common"
    elif folded in {email.casefold(), email.split("@")[0].casefold()}:
        problem = "the password must not be your email address"
    if problem:
        raise WeakPassword(
            f"The password is too weak: {problem}",
            errors=[{"field": field, "location": "body", "message": problem, "type": "weak"}],
        )


# -- users and roles --------------------------------------------------------------------------


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def roles_of(session: AsyncSession, user_id: str) -> list[str]:
    rows = await session.scalars(
        select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role)
    )
    return list(rows)


async def permissions_for(session: AsyncSession, roles: Iterable[str]) -> frozenset[str]:
    """Every permission the given roles grant (built-in ones from code, custom from the DB)."""
    roles = list(roles)
    granted: set[str] = set()
    for role in roles:
        granted |= perms.BUILTIN_ROLES.get(role, set())
    custom = [r for r in roles if r not in perms.BUILTIN_ROLES]
    if custom:
        rows = await session.scalars(
            select(RolePermission.permission).where(RolePermission.role_name.in_(custom))
        )
        granted |= set(rows)
    return frozenset(granted)


async def holders_of(session: AsyncSession, permission: str) -> list[str]:
    """Ids of the active users holding `permission` (for notifications: who to tell)."""
    roles = {r for r, granted in perms.BUILTIN_ROLES.items() if {permission, perms.ALL} & granted}
    custom = await session.scalars(
        select(RolePermission.role_name).where(
            RolePermission.permission.in_([permission, perms.ALL])
        )
    )
    roles |= set(custom)
    if not roles:
        return []
    rows = await session.scalars(
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(roles), User.is_active.is_(True))
        .distinct()
    )
    return list(rows)


async def recipients_for(session: AsyncSession, user_ids: Sequence[str]) -> list[Recipient]:
    """The active users among `user_ids` as notification recipients, in `user_ids` order.

    Only a verified address is given: an unverified one may belong to somebody else, so such a
    user gets the in-app notice but no email.
    """
    if not user_ids:
        return []
    rows = await session.execute(
        select(User.id, User.email, User.email_verified_at, User.name, User.language).where(
            User.id.in_(list(user_ids)), User.is_active.is_(True)
        )
    )
    found = {
        row.id: Recipient(
            user_id=row.id,
            email=row.email if row.email_verified_at is not None else None,
            name=row.name,
            language=row.language,
        )
        for row in rows
    }
    return [found[user_id] for user_id in dict.fromkeys(user_ids) if user_id in found]


async def load_principal(
    session: AsyncSession,
    claims: dict[str, Any],
    enrichers: Sequence[PrincipalEnricher] = (),
) -> Principal | None:
    """Claims to the current principal; None when the user is inactive or the session revoked.

    `enrichers` let other domains add what they own (e.g. shops fill `managed_shop_ids`).
    """
    user_id, session_id = claims.get("sub"), claims.get("sid")
    if not isinstance(user_id, str) or not isinstance(session_id, str):
        return None
    row = (
        await session.execute(
            select(User.is_active, AuthSession.revoked_at)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(User.id == user_id, AuthSession.id == session_id)
        )
    ).first()
    if row is None or not row.is_active or row.revoked_at is not None:
        return None
    roles = await roles_of(session, user_id)
    principal = Principal(
        user_id=user_id,
        roles=frozenset(roles),
        permissions=await permissions_for(session, roles),
        session_id=session_id,
    )
    for enrich in enrichers:
        principal = await enrich(session, principal)
    return principal


def principal_loader(
    enrichers: Sequence[PrincipalEnricher],
) -> Callable[[AsyncSession, dict[str, Any]], Awaitable[Principal | None]]:
    """The loader registered on the app; reads `enrichers` at call time (append to it)."""

    async def loader(session: AsyncSession, claims: dict[str, Any]) -> Principal | None:
        return await load_principal(session, claims, enrichers)

    return loader


# -- sessions and tokens ----------------------------------------------------------------------


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
    return int(getattr(result, "rowcount", 0) or 0)


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
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
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
        sessions=_rowcount(sessions),
        refresh_tokens=_rowcount(tokens_of_dead) + _rowcount(tokens),
        codes=_rowcount(codes),
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# -- registration, verification, password reset -----------------------------------------------


async def _new_code(
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


def _link(ctx: AuthContext, path: str, token: str) -> str:
    return f"{ctx.public_base_url.rstrip('/')}/{path}?{urlencode({'token': token})}"


async def _email(session: AsyncSession, user: User, template: str, **context: Any) -> None:
    await defer(
        session,
        "email.send",
        {
            "to": user.email,
            "to_name": user.name,
            "template": template,
            "language": user.language,
            "context": {"name": user.name, **context},
        },
    )


async def _send_verification(session: AsyncSession, ctx: AuthContext, user: User) -> None:
    code, token = await _new_code(session, ctx, user, VERIFY_EMAIL, VERIFY_CODE_TTL)
    await _email(session, user, "verify_email", code=code, link=_link(ctx, "verify-email", token))


async def register(
    session: AsyncSession, ctx: AuthContext, data: UserCreate, default_language: str
) -> None:
    """Create a customer and send the verification; a known email gets the same answer."""
    await ctx.limiter.hit(REGISTER_PER_IP, ctx.meta.ip or "unknown")
    check_password_policy(data.password, data.email)
    password_hash = await security.hash_password(data.password)
    if await user_by_email(session, data.email) is not None:
        await ctx.audit(session, "auth.register_existing_email", diff={"email": data.email})
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


async def _find_code(
    session: AsyncSession,
    ctx: AuthContext,
    purpose: str,
    *,
    token: str | None,
    email: str | None,
    code: str | None,
) -> tuple[OneTimeCode, User]:
    """The live code matching a link token, or an email and code (attempts counted)."""
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


async def verify_email(
    session: AsyncSession,
    ctx: AuthContext,
    *,
    token: str | None = None,
    email: str | None = None,
    code: str | None = None,
) -> None:
    """Mark the email verified with the link token or the 6-digit code (single use)."""
    if not token:
        await ctx.limiter.hit(VERIFY_PER_EMAIL, email or "")
    found, user = await _find_code(session, ctx, VERIFY_EMAIL, token=token, email=email, code=code)
    found.used_at = utcnow()
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        await _email(session, user, "welcome")
    await ctx.audit(session, "auth.email_verified", actor_id=user.id, user=user)


async def resend_verification(session: AsyncSession, ctx: AuthContext, email: str) -> None:
    """Send a fresh code to an unverified account; the answer never says whether it exists."""
    await ctx.limiter.hit(RESEND_PER_IP, ctx.meta.ip or "unknown")
    await ctx.limiter.hit(RESEND_PER_EMAIL, email)
    user = await user_by_email(session, email)
    if user is not None and user.is_active and user.email_verified_at is None:
        await _send_verification(session, ctx, user)


async def forgot_password(session: AsyncSession, ctx: AuthContext, email: str) -> None:
    """Send a reset link and code to an active account; same answer for unknown emails."""
    await ctx.limiter.hit(FORGOT_PER_IP, ctx.meta.ip or "unknown")
    await ctx.limiter.hit(FORGOT_PER_EMAIL, email)
    user = await user_by_email(session, email)
    if user is None or not user.is_active:
        return
    code, token = await _new_code(session, ctx, user, PASSWORD_RESET, RESET_CODE_TTL)
    await _email(
        session, user, "password_reset", code=code, link=_link(ctx, "reset-password", token)
    )
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
    found, user = await _find_code(
        session, ctx, PASSWORD_RESET, token=token, email=email, code=code
    )
    check_password_policy(new_password, user.email, field="new_password")
    user.password_hash = await security.hash_password(new_password)
    found.used_at = utcnow()
    if user.email_verified_at is None:  # the reset proved the mailbox is theirs
        user.email_verified_at = utcnow()
    revoked = await revoke_sessions(session, "password_reset", user_id=user.id)
    await _email(session, user, "password_changed")
    await ctx.audit(
        session,
        "auth.password_reset",
        actor_id=user.id,
        user=user,
        diff={"password": "changed", "sessions_revoked": revoked},
    )


# -- profile ----------------------------------------------------------------------------------


async def _user_read(session: AsyncSession, user: User) -> UserRead:
    return UserRead(**_user_fields(user), roles=await roles_of(session, user.id))


def _user_fields(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "phone": user.phone,
        "language": user.language,
        "email_verified": user.email_verified_at is not None,
        "fidelity_points": user.fidelity_points,
        "created_at": user.created_at,
    }


async def _me(session: AsyncSession, principal: Principal) -> User:
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("No such user")
    return user


async def get_me(session: AsyncSession, principal: Principal) -> UserRead:
    return await _user_read(session, await _me(session, principal))


async def update_me(session: AsyncSession, principal: Principal, data: UserUpdate) -> UserRead:
    user = await _me(session, principal)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(user, name, value)
    await session.flush()
    return await _user_read(session, user)


# -- addresses --------------------------------------------------------------------------------


def _own_addresses(principal: Principal) -> Select[Address]:
    """The one place deciding which addresses a caller sees: their own."""
    return select(Address).where(Address.user_id == principal.user_id)


async def _check_zone(session: AsyncSession, zone_id: str) -> None:
    if not await zones_service.is_active_zone(session, zone_id):
        raise UnknownReference(
            "No active delivery zone has this id",
            errors=[
                {"field": "zone_id", "location": "body", "message": "unknown zone", "type": "ref"}
            ],
        )


async def list_addresses(session: AsyncSession, principal: Principal) -> list[Address]:
    query = _own_addresses(principal).order_by(Address.is_default.desc(), Address.id)
    return list((await session.scalars(query)).all())


async def get_address(session: AsyncSession, principal: Principal, address_id: str) -> Address:
    address = await session.scalar(_own_addresses(principal).where(Address.id == address_id))
    if address is None:
        raise NotFound("No such address")
    return address


async def _make_default(session: AsyncSession, principal: Principal, address: Address) -> None:
    await session.execute(
        update(Address)
        .where(Address.user_id == principal.user_id, Address.id != address.id)
        .values(is_default=False)
        .execution_options(synchronize_session=False)
    )
    address.is_default = True


async def create_address(
    session: AsyncSession, principal: Principal, data: AddressCreate
) -> Address:
    """Add an address; the first one, or one sent with `is_default`, becomes the default."""
    await _check_zone(session, data.zone_id)
    has_any = await session.scalar(select(exists(_own_addresses(principal))))
    address = Address(user_id=principal.user_id, **data.model_dump(exclude={"is_default"}))
    session.add(address)
    await session.flush()
    if data.is_default or not has_any:
        await _make_default(session, principal, address)
    await session.flush()
    await session.refresh(address)
    return address


async def update_address(
    session: AsyncSession, principal: Principal, address_id: str, data: AddressUpdate
) -> Address:
    address = await get_address(session, principal, address_id)
    values = data.model_dump(exclude_unset=True)
    if "zone_id" in values:
        await _check_zone(session, values["zone_id"])
    make_default = values.pop("is_default", None)
    for name, value in values.items():
        setattr(address, name, value)
    if make_default:
        await _make_default(session, principal, address)
    await session.flush()
    await session.refresh(address)
    return address


async def delete_address(session: AsyncSession, principal: Principal, address_id: str) -> None:
    """Delete; when it was the default, the oldest remaining address becomes the default."""
    address = await get_address(session, principal, address_id)
    was_default = address.is_default
    await session.delete(address)
    await session.flush()
    if was_default:
        successor = await session.scalar(_own_addresses(principal).order_by(Address.id).limit(1))
        if successor is not None:
            successor.is_default = True
            await session.flush()


# -- staff: users -----------------------------------------------------------------------------


def _admin_view(user: User, roles: list[str]) -> UserAdminRead:
    return UserAdminRead(
        **_user_fields(user),
        roles=roles,
        is_active=user.is_active,
        last_login_at=user.last_login_at,
        updated_at=user.updated_at,
    )


async def _admin_read(session: AsyncSession, user: User) -> UserAdminRead:
    return _admin_view(user, await roles_of(session, user.id))


async def list_users(
    session: AsyncSession,
    *,
    role: str | None = None,
    email: str | None = None,
    is_active: bool | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> tuple[list[UserAdminRead], str | None]:
    """Users, newest first; `email` matches a prefix."""
    query = select(User).order_by(User.created_at.desc(), User.id.desc()).limit(limit + 1)
    if role:
        query = query.where(exists().where(UserRole.user_id == User.id, UserRole.role == role))
    if email:
        query = query.where(User.email.startswith(email.lower(), autoescape=True))
    if is_active is not None:
        query = query.where(User.is_active.is_(is_active))
    position = decode_cursor(cursor)
    if position is not None:
        query = query.where(after_position(User.created_at, User.id, position))
    rows = list((await session.scalars(query)).all())
    next_cursor = position_of(rows[limit - 1]) if len(rows) > limit else None
    page = rows[:limit]
    held: dict[str, list[str]] = {u.id: [] for u in page}
    pairs = await session.execute(
        select(UserRole.user_id, UserRole.role)
        .where(UserRole.user_id.in_(list(held)))
        .order_by(UserRole.role)
    )
    for user_id, role in pairs:
        held[user_id].append(role)
    return [_admin_view(u, held[u.id]) for u in page], next_cursor


async def _user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user")
    return user


async def get_user(session: AsyncSession, user_id: str) -> UserAdminRead:
    return await _admin_read(session, await _user(session, user_id))


async def _role_permissions(session: AsyncSession, role: str) -> set[str] | None:
    """What `role` grants, or None when no such role exists."""
    if role in perms.BUILTIN_ROLES:
        return set(perms.BUILTIN_ROLES[role])
    if await session.get(Role, role) is None:
        return None
    rows = await session.scalars(
        select(RolePermission.permission).where(RolePermission.role_name == role)
    )
    return set(rows)


def _check_can_grant(principal: Principal, granted: Iterable[str], what: str) -> None:
    """Nobody hands out (or takes away) more than they hold themselves."""
    missing = sorted(p for p in granted if not principal.has(p))
    if missing:
        raise PermissionDenied(f"You cannot {what}: it involves {', '.join(missing)}")


async def update_user(
    session: AsyncSession,
    ctx: AuthContext,
    principal: Principal,
    user_id: str,
    data: UserAdminUpdate,
) -> UserAdminRead:
    """Change a user's name, active flag or roles; deactivation revokes their sessions."""
    user = await _user(session, user_id)
    values = data.model_dump(exclude_unset=True)
    diff: dict[str, Any] = {}
    if "roles" in values:
        if not principal.has("roles:assign"):
            raise PermissionDenied("This needs the 'roles:assign' permission")
        before, after = set(await roles_of(session, user.id)), set(values.pop("roles"))
        for role in sorted(before ^ after):
            granted = await _role_permissions(session, role)
            if granted is None:
                raise UnknownReference(
                    f"No role is named {role!r}",
                    errors=[{"field": "roles", "location": "body", "message": role, "type": "ref"}],
                )
            _check_can_grant(principal, granted, f"change role {role!r}")
        if before != after:
            await session.execute(
                delete(UserRole).where(UserRole.user_id == user.id, UserRole.role.in_(before))
            )
            session.add_all(UserRole(user_id=user.id, role=r) for r in sorted(after))
            diff["roles"] = [sorted(before), sorted(after)]
    if values.get("is_active") is False and user.id == principal.user_id:
        raise Conflict("You cannot deactivate your own account")
    before_fields = {k: getattr(user, k) for k in values}
    for name, value in values.items():
        setattr(user, name, value)
    diff |= audit.changes(before_fields, values)
    if diff.get("is_active") == [True, False]:
        diff["sessions_revoked"] = await revoke_sessions(session, "deactivated", user_id=user.id)
    await session.flush()
    if diff:
        action = "user.deactivated" if "sessions_revoked" in diff else "user.updated"
        if "roles" in diff and action == "user.updated":
            action = "user.roles_changed"
        await ctx.audit(session, action, actor_id=principal.user_id, user=user, diff=diff)
    return await _admin_read(session, user)


# -- staff: roles and permissions -------------------------------------------------------------


def list_permissions() -> list[PermissionRead]:
    return [PermissionRead(name=n, description=d) for n, d in sorted(perms.PERMISSIONS.items())]


async def list_roles(session: AsyncSession) -> list[RoleRead]:
    builtin = [
        RoleRead(
            name=name,
            description=perms.BUILTIN_DESCRIPTIONS.get(name, ""),
            permissions=sorted(granted),
            builtin=True,
        )
        for name, granted in perms.BUILTIN_ROLES.items()
    ]
    custom = (await session.scalars(select(Role).order_by(Role.name))).all()
    return builtin + [await _role_read(session, r) for r in custom]


async def _role_read(session: AsyncSession, role: Role) -> RoleRead:
    granted = await _role_permissions(session, role.name) or set()
    return RoleRead(
        name=role.name, description=role.description, permissions=sorted(granted), builtin=False
    )


async def get_role(session: AsyncSession, name: str) -> RoleRead:
    for role in await list_roles(session):
        if role.name == name:
            return role
    raise NotFound("No such role")


def _check_known(permissions: Iterable[str]) -> None:
    unknown = sorted(p for p in permissions if p != perms.ALL and p not in perms.PERMISSIONS)
    if unknown:
        raise UnknownReference(
            f"Unknown permissions: {', '.join(unknown)}",
            errors=[
                {"field": "permissions", "location": "body", "message": p, "type": "ref"}
                for p in unknown
            ],
        )


async def _custom_role(session: AsyncSession, name: str) -> Role:
    if name in perms.BUILTIN_ROLES:
        raise BuiltinRole(f"The built-in role {name!r} cannot be changed")
    role = await session.get(Role, name)
    if role is None:
        raise NotFound("No such role")
    return role


async def _set_permissions(session: AsyncSession, role: str, permissions: set[str]) -> None:
    await session.execute(delete(RolePermission).where(RolePermission.role_name == role))
    session.add_all(RolePermission(role_name=role, permission=p) for p in sorted(permissions))
    await session.flush()


async def create_role(
    session: AsyncSession, ctx: AuthContext, principal: Principal, data: RoleCreate
) -> RoleRead:
    granted = set(data.permissions)
    _check_known(granted)
    _check_can_grant(principal, granted, "grant these permissions")
    if data.name in perms.BUILTIN_ROLES or await session.get(Role, data.name) is not None:
        raise Conflict(f"A role named {data.name!r} exists already")
    role = Role(name=data.name, description=data.description)
    session.add(role)
    await session.flush()
    await _set_permissions(session, role.name, granted)
    await audit.record(
        session,
        ctx.meta,
        "role.created",
        actor_id=principal.user_id,
        entity_type="role",
        entity_id=role.name,
        diff={"permissions": sorted(granted), "description": data.description},
    )
    return await _role_read(session, role)


async def update_role(
    session: AsyncSession, ctx: AuthContext, principal: Principal, name: str, data: RoleUpdate
) -> RoleRead:
    role = await _custom_role(session, name)
    diff: dict[str, Any] = {}
    if data.permissions is not None:
        before = await _role_permissions(session, name) or set()
        after = set(data.permissions)
        _check_known(after)
        _check_can_grant(principal, before ^ after, "change these permissions")
        await _set_permissions(session, name, after)
        diff["permissions"] = [sorted(before), sorted(after)]
    if data.description is not None and data.description != role.description:
        diff["description"] = [role.description, data.description]
        role.description = data.description
    await session.flush()
    if diff:
        await audit.record(
            session,
            ctx.meta,
            "role.updated",
            actor_id=principal.user_id,
            entity_type="role",
            entity_id=name,
            diff=diff,
        )
    return await _role_read(session, role)


async def delete_role(
    session: AsyncSession, ctx: AuthContext, principal: Principal, name: str
) -> None:
    """Delete a custom role; the users holding it lose it."""
    role = await _custom_role(session, name)
    granted = await _role_permissions(session, name) or set()
    _check_can_grant(principal, granted, "delete this role")
    await session.execute(delete(UserRole).where(UserRole.role == name))
    await session.delete(role)
    await session.flush()
    await audit.record(
        session,
        ctx.meta,
        "role.deleted",
        actor_id=principal.user_id,
        entity_type="role",
        entity_id=name,
        diff={"permissions": sorted(granted)},
    )


# -- provisioning (CLI) -----------------------------------------------------------------------


async def provision_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str,
    roles: Iterable[str],
) -> tuple[User, bool]:
    """Create a verified, active user with `roles`, or add the roles to an existing one.

    Returns the user and whether it was created. The password is only set on creation.
    """
    check_password_policy(password, email)
    user = await user_by_email(session, email)
    created = user is None
    if user is None:
        user = User(
            email=email,
            name=name,
            password_hash=await security.hash_password(password),
            email_verified_at=utcnow(),
        )
        session.add(user)
        await session.flush()
    user.is_active = True
    held = set(await roles_of(session, user.id))
    session.add_all(UserRole(user_id=user.id, role=r) for r in sorted(set(roles) - held))
    await session.flush()
    await audit.record(
        session,
        None,
        "user.provisioned",
        entity_type="user",
        entity_id=user.id,
        diff={"roles": sorted(set(roles)), "created": created},
    )
    return user, created
