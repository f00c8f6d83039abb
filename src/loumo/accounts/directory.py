"""The recipient directory: who holds a permission, and users as notification recipients.

Notifications sit below accounts and never import it; `loumo.accounts.tasks` registers these
two lookups with `loumo.notifications.recipients` so that lower packages' jobs can reach people.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import RolePermission, User, UserRole
from loumo.core import permissions as perms
from loumo.notifications.service import Recipient


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


# Built once (every notice reads it): the ids go as an expanding parameter.
_RECIPIENTS = select(User.id, User.email, User.email_verified_at, User.name, User.language).where(
    User.id.in_(bindparam("r_users", expanding=True)), User.is_active.is_(True)
)


def as_recipient(
    user_id: str, email: str, email_verified_at: datetime | None, name: str, language: str
) -> Recipient:
    """A user as a notification recipient: the email only once verified (see
    `recipients_for`), for a caller that read the user's row with its own statement."""
    return Recipient(
        user_id=user_id,
        email=email if email_verified_at is not None else None,
        name=name,
        language=language,
    )


async def recipients_for(session: AsyncSession, user_ids: Sequence[str]) -> list[Recipient]:
    """The active users among `user_ids` as notification recipients, in `user_ids` order.

    Only a verified address is given: an unverified one may belong to somebody else, so such a
    user gets the in-app notice but no email.
    """
    if not user_ids:
        return []
    rows = await session.execute(_RECIPIENTS, {"r_users": list(dict.fromkeys(user_ids))})
    found = {
        row.id: as_recipient(row.id, row.email, row.email_verified_at, row.name, row.language)
        for row in rows
    }
    return [found[user_id] for user_id in dict.fromkeys(user_ids) if user_id in found]
