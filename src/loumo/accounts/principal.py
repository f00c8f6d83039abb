"""From an access token's claims to the current `Principal` (roles, permissions, session).

`loumo.accounts.install` registers `principal_loader` on the app for `loumo.core.auth`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import AuthSession, User, UserRole
from loumo.accounts.roles import permissions_for
from loumo.core.auth import Principal, PrincipalColumn

# What another domain adds to the principal: a column read in the loader's statement, or (for
# what a join cannot give) a function run after it, with a statement of its own.
PrincipalEnricher = PrincipalColumn | Callable[[AsyncSession, Principal], Awaitable[Principal]]


# The loader's statement for a set of joined enrichers (the same on every request): built once,
# keyed by the columns it joins.
_statements: dict[tuple[str, ...], Select[Any]] = {}


def _statement(joined: Sequence[PrincipalColumn]) -> Select[Any]:
    key = tuple(str(c) for e in joined for c in (e.user_id, e.value))
    statement = _statements.get(key)
    if statement is None:
        statement = (
            select(
                User.is_active,
                User.email_verified_at,
                AuthSession.revoked_at,
                UserRole.role,
                *(e.value for e in joined),
            )
            .join(AuthSession, AuthSession.user_id == User.id)
            .outerjoin(UserRole, UserRole.user_id == User.id)
        )
        for enricher in joined:
            statement = statement.outerjoin(enricher.value.table, enricher.user_id == User.id)
        statement = statement.where(
            User.id == bindparam("p_user"), AuthSession.id == bindparam("p_session")
        )
        _statements[key] = statement
    return statement


async def load_principal(
    session: AsyncSession,
    claims: dict[str, Any],
    enrichers: Sequence[PrincipalEnricher] = (),
) -> Principal | None:
    """Claims to the current principal; None when the user is inactive or the session revoked.

    One statement: the user, the session, the roles and the enrichers' columns (outer joins:
    one row per combination, a few for a manager of several shops); custom roles add one for
    their permissions. `enrichers` let other domains add what they own (e.g. shops fill
    `managed_shop_ids`).
    """
    user_id, session_id = claims.get("sub"), claims.get("sid")
    if not isinstance(user_id, str) or not isinstance(session_id, str):
        return None
    joined = [e for e in enrichers if isinstance(e, PrincipalColumn)]
    rows = (
        await session.execute(_statement(joined), {"p_user": user_id, "p_session": session_id})
    ).all()
    if not rows or not rows[0].is_active or rows[0].revoked_at is not None:
        return None
    roles = frozenset(row.role for row in rows if row.role is not None)
    principal = Principal(
        user_id=user_id,
        roles=roles,
        permissions=await permissions_for(session, roles),
        session_id=session_id,
        email_verified=rows[0].email_verified_at is not None,
    )
    for n, enricher in enumerate(joined, start=4):
        found = frozenset(row[n] for row in rows if row[n] is not None)
        principal = enricher.apply(principal, found)
    for enrich in enrichers:
        if not isinstance(enrich, PrincipalColumn):
            principal = await enrich(session, principal)
    return principal


def principal_loader(
    enrichers: Sequence[PrincipalEnricher],
) -> Callable[[AsyncSession, dict[str, Any]], Awaitable[Principal | None]]:
    """The loader registered on the app; reads `enrichers` at call time (append to it)."""

    async def loader(session: AsyncSession, claims: dict[str, Any]) -> Principal | None:
        return await load_principal(session, claims, enrichers)

    return loader
