"""User accounts as staff see them (`/users`): list, read, rename, (de)activate, assign roles.

Also the one lookup of an account by email that sign-in, registration and codes share.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.context import AuthContext
from loumo.accounts.errors import Outranked, UnknownReference
from loumo.accounts.fidelity import balance, balances
from loumo.accounts.models import User, UserRole
from loumo.accounts.profile import user_fields
from loumo.accounts.roles import check_can_grant, permissions_for, role_permissions, roles_of
from loumo.accounts.schemas import UserAdminRead, UserAdminUpdate
from loumo.accounts.sessions import revoke_sessions
from loumo.audit import service as audit
from loumo.core.auth import Principal
from loumo.core.errors import Conflict, NotFound, PermissionDenied
from loumo.core.pagination import after_position, decode_cursor, position_of


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


def _admin_view(user: User, roles: list[str], fidelity_points: int) -> UserAdminRead:
    return UserAdminRead(
        **user_fields(user, fidelity_points),
        roles=roles,
        is_active=user.is_active,
        last_login_at=user.last_login_at,
        updated_at=user.updated_at,
    )


async def _admin_read(session: AsyncSession, user: User) -> UserAdminRead:
    return _admin_view(user, await roles_of(session, user.id), await balance(session, user.id))


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
    points = await balances(session, list(held))
    return [_admin_view(u, held[u.id], points[u.id]) for u in page], next_cursor


async def _user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user")
    return user


async def check_outranks(session: AsyncSession, principal: Principal, user: User) -> None:
    """403 `outranked` unless the caller holds every permission `user` holds."""
    if user.id == principal.user_id:
        return
    held = await permissions_for(session, await roles_of(session, user.id))
    missing = sorted(p for p in held if not principal.has(p))
    if missing:
        raise Outranked(
            f"You cannot change this user: they hold permissions you do not ({', '.join(missing)})"
        )


async def get_user(session: AsyncSession, user_id: str) -> UserAdminRead:
    return await _admin_read(session, await _user(session, user_id))


async def update_user(
    session: AsyncSession,
    user_id: str,
    data: UserAdminUpdate,
    *,
    actor: Principal,
    ctx: AuthContext,
) -> UserAdminRead:
    """Change a user's name, active flag or roles; deactivation revokes their sessions.

    Nobody changes a user who holds a permission they do not hold themselves (an admin's
    account is out of reach of support staff with `users:write`).
    """
    user = await _user(session, user_id)
    await check_outranks(session, actor, user)
    values = data.model_dump(exclude_unset=True)
    diff: dict[str, Any] = {}
    if "roles" in values:
        if not actor.has("roles:assign"):
            raise PermissionDenied("This needs the 'roles:assign' permission")
        before, after = set(await roles_of(session, user.id)), set(values.pop("roles"))
        for role in sorted(before ^ after):
            granted = await role_permissions(session, role)
            if granted is None:
                raise UnknownReference(
                    f"No role is named {role!r}",
                    errors=[{"field": "roles", "location": "body", "message": role, "type": "ref"}],
                )
            check_can_grant(actor, granted, f"change role {role!r}")
        if before != after:
            await session.execute(
                delete(UserRole).where(UserRole.user_id == user.id, UserRole.role.in_(before))
            )
            session.add_all(UserRole(user_id=user.id, role=r) for r in sorted(after))
            diff["roles"] = [sorted(before), sorted(after)]
    if values.get("is_active") is False and user.id == actor.user_id:
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
        await ctx.audit(session, action, actor_id=actor.user_id, user=user, diff=diff)
    return await _admin_read(session, user)
