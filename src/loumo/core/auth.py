"""Who is calling: access-token decoding, the principal, and permission dependencies.

Tokens are issued by `accounts`; this module only verifies them and asks the loader that
`accounts` registers on the app (`app.state.principal_loader`) to turn claims into a current
`Principal` (so that a deactivated user or a revoked session is refused at once). Domains depend
on this module, never on `accounts`, to know who is calling.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Column
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import Database
from loumo.core.errors import PermissionDenied, Unauthorized


class EmailNotVerified(PermissionDenied):
    code, title = "email_not_verified", "Email not verified"


ALGORITHM = "HS256"
AUDIENCE = "loumo"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 (a token kind, not a secret)

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/login")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as every service sees it."""

    user_id: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    managed_shop_ids: frozenset[str] = frozenset()
    session_id: str | None = None
    # False until the account's address is verified: such a caller passes only the routes that
    # take `SignedInPrincipal` (reading `/me`); `CurrentPrincipal` answers 403.
    email_verified: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def has(self, permission: str) -> bool:
        return permission in self.permissions or "*" in self.permissions

    def manages_shop(self, shop_id: str) -> bool:
        return shop_id in self.managed_shop_ids


PrincipalLoader = Callable[[AsyncSession, dict[str, Any]], Awaitable[Principal | None]]


@dataclass(frozen=True, slots=True)
class PrincipalColumn:
    """What a domain adds to the principal from a table of its own keyed by user id, read in
    the loader's one statement (an outer join on `user_id`, no statement of its own): `apply`
    gets the values of `value` found for the caller (e.g. the shops they manage)."""

    user_id: Column[Any]
    value: Column[Any]
    apply: Callable[[Principal, frozenset[str]], Principal]


# Tokens already verified, with their claims: a caller sends the same token with every request,
# and verifying it (HMAC, JSON, claims) was ~5% of a checkout's CPU. An entry serves only until
# its token's own expiry; the oldest entries go first past the bound.
_VERIFIED: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
VERIFIED_TOKENS_KEPT = 4096


def decode_access_token(token: str, secret_key: str) -> dict[str, Any]:
    """The claims of a valid access token (401 otherwise). The caller must not change them."""
    key = (secret_key, token)
    claims = _VERIFIED.get(key)
    if claims is not None:
        if time.time() < claims["exp"]:  # as PyJWT: expired from `exp` on
            return claims
        del _VERIFIED[key]
        raise Unauthorized("The access token has expired")
    claims = _verify(token, secret_key)
    _VERIFIED[key] = claims
    while len(_VERIFIED) > VERIFIED_TOKENS_KEPT:
        _VERIFIED.popitem(last=False)
    return claims


def _verify(token: str, secret_key: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "iat", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The access token has expired") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("The access token is invalid") from None
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise Unauthorized("The access token is invalid")
    return claims


async def _signed_in(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller of a valid bearer token, verified or not; None without a token.

    Looked up in a short read-only session of its own: its pooled connection goes back before
    the route runs, so a route that then waits (on a decoding slot, say) holds none, and the
    request's unit of work checks one out only when it first needs it."""
    if credentials is None:
        return None
    claims = decode_access_token(credentials.credentials, request.app.state.secret_key)
    loader: PrincipalLoader | None = getattr(request.app.state, "principal_loader", None)
    principal = None
    if loader is not None:
        db: Database = request.app.state.db
        async with db.read_sessionmaker() as session:
            principal = await loader(session, claims)
    if principal is None:
        raise Unauthorized("The session is no longer valid")
    return principal


async def _optional_principal(
    principal: Annotated[Principal | None, Depends(_signed_in)],
) -> Principal | None:
    """A public route's caller; an account whose address is not verified counts as anonymous."""
    return principal if principal is not None and principal.email_verified else None


async def _principal(
    principal: Annotated[Principal | None, Depends(_signed_in)],
) -> Principal:
    """Any signed-in caller, verified or not (see `SignedInPrincipal`)."""
    if principal is None:
        error = Unauthorized("Sign in to use this endpoint")
        error.headers["WWW-Authenticate"] = "Bearer"
        raise error
    return principal


async def _verified_principal(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if not principal.email_verified:
        raise EmailNotVerified(
            "Verify your email address first (POST /api/v1/auth/verify-email); "
            "a new code comes with POST /api/v1/auth/resend-verification"
        )
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(_optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(_verified_principal)]
# Admits an account whose address is not verified yet: only for what such an account may do
# (read `/me`, verify); every other route takes `CurrentPrincipal`.
SignedInPrincipal = Annotated[Principal, Depends(_principal)]
OptionalSignedInPrincipal = Annotated[Principal | None, Depends(_signed_in)]


def sees_inactive(principal: Principal | None, permission: str) -> bool:
    """Whether the caller sees inactive rows of a public read: staff holding the domain's
    write `permission` do (to manage them), everyone else sees active rows only."""
    return principal is not None and principal.has(permission)


def holds_any(*permissions: str) -> Callable[..., Awaitable[bool]]:
    """A dependency answering whether the caller of a public route, if any, holds one of
    `permissions` (never refuses): e.g. whether it sees inactive rows (`sees_inactive`),
    `Annotated[bool, Depends(holds_any(ZONES_WRITE))]`."""

    async def dependency(principal: OptionalPrincipal) -> bool:
        return any(sees_inactive(principal, permission) for permission in permissions)

    dependency.__name__ = "holds_any_" + "_".join(p.replace(":", "_") for p in permissions)
    return dependency


def require(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only callers holding `permission` (403 otherwise)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has(permission):
            raise PermissionDenied(f"This needs the '{permission}' permission")
        return principal

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency


def manager_or(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits a manager of the shop named by the path's `shop_id`, or a
    caller holding `permission` (403 otherwise): the enforcement of `manager_or:<permission>`."""

    async def dependency(shop_id: str, principal: CurrentPrincipal) -> Principal:
        if not (principal.has(permission) or principal.manages_shop(shop_id)):
            raise PermissionDenied(f"This needs a manager of this shop or '{permission}'")
        return principal

    dependency.__name__ = f"manager_or_{permission.replace(':', '_')}"
    return dependency
