"""The caller's own account (`/me`): read it, change their name, phone or language."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.fidelity import balance
from loumo.accounts.models import User
from loumo.accounts.roles import roles_of
from loumo.accounts.schemas import UserRead, UserUpdate
from loumo.core.auth import Principal
from loumo.core.errors import NotFound


def user_fields(user: User, fidelity_points: int) -> dict[str, Any]:
    """The fields every read view of a user shares (`UserRead`, `UserAdminRead`); the points
    are the balance of their fidelity ledger."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "phone": user.phone,
        "language": user.language,
        "email_verified": user.email_verified_at is not None,
        "fidelity_points": fidelity_points,
        "created_at": user.created_at,
    }


async def _user_read(session: AsyncSession, user: User) -> UserRead:
    points = await balance(session, user.id)
    return UserRead(**user_fields(user, points), roles=await roles_of(session, user.id))


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
