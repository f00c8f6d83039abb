"""From an access token's claims to the current `Principal` (roles, permissions, session).

`loumo.accounts.install` registers `principal_loader` on the app for `loumo.core.auth`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import AuthSession, User
from loumo.accounts.roles import permissions_for, roles_of
from loumo.core.auth import Principal

PrincipalEnricher = Callable[[AsyncSession, Principal], Awaitable[Principal]]


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
            select(User.is_active, User.email_verified_at, AuthSession.revoked_at)
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
        email_verified=row.email_verified_at is not None,
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
