"""Roles and permissions: who holds which role, what a role grants, and the staff's role admin.

Built-in roles live in code (`loumo.core.permissions`) and cannot be changed; custom roles are
rows. Nobody grants, changes or deletes more than they hold themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.errors import BuiltinRole, UnknownReference
from loumo.accounts.models import Role, RolePermission, UserRole
from loumo.accounts.schemas import PermissionRead, RoleCreate, RoleRead, RoleUpdate
from loumo.audit import service as audit
from loumo.audit.service import RequestMeta
from loumo.core import permissions as perms
from loumo.core.auth import Principal
from loumo.core.errors import Conflict, NotFound, PermissionDenied


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


async def role_permissions(session: AsyncSession, role: str) -> set[str] | None:
    """What `role` grants, or None when no such role exists."""
    if role in perms.BUILTIN_ROLES:
        return set(perms.BUILTIN_ROLES[role])
    if await session.get(Role, role) is None:
        return None
    rows = await session.scalars(
        select(RolePermission.permission).where(RolePermission.role_name == role)
    )
    return set(rows)


def check_can_grant(principal: Principal, granted: Iterable[str], what: str) -> None:
    """Nobody hands out (or takes away) more than they hold themselves."""
    missing = sorted(p for p in granted if not principal.has(p))
    if missing:
        raise PermissionDenied(f"You cannot {what}: it involves {', '.join(missing)}")


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
    granted = await role_permissions(session, role.name) or set()
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
    session: AsyncSession, data: RoleCreate, *, actor: Principal, meta: RequestMeta
) -> RoleRead:
    granted = set(data.permissions)
    _check_known(granted)
    check_can_grant(actor, granted, "grant these permissions")
    if data.name in perms.BUILTIN_ROLES or await session.get(Role, data.name) is not None:
        raise Conflict(f"A role named {data.name!r} exists already")
    role = Role(name=data.name, description=data.description)
    session.add(role)
    await session.flush()
    await _set_permissions(session, role.name, granted)
    await audit.record(
        session,
        meta,
        "role.created",
        actor_id=actor.user_id,
        entity_type="role",
        entity_id=role.name,
        diff={"permissions": sorted(granted), "description": data.description},
    )
    return await _role_read(session, role)


async def update_role(
    session: AsyncSession, name: str, data: RoleUpdate, *, actor: Principal, meta: RequestMeta
) -> RoleRead:
    role = await _custom_role(session, name)
    diff: dict[str, Any] = {}
    if data.permissions is not None:
        before = await role_permissions(session, name) or set()
        after = set(data.permissions)
        _check_known(after)
        check_can_grant(actor, before ^ after, "change these permissions")
        await _set_permissions(session, name, after)
        diff["permissions"] = [sorted(before), sorted(after)]
    if data.description is not None and data.description != role.description:
        diff["description"] = [role.description, data.description]
        role.description = data.description
    await session.flush()
    if diff:
        await audit.record(
            session,
            meta,
            "role.updated",
            actor_id=actor.user_id,
            entity_type="role",
            entity_id=name,
            diff=diff,
        )
    return await _role_read(session, role)


async def delete_role(
    session: AsyncSession, name: str, *, actor: Principal, meta: RequestMeta
) -> None:
    """Delete a custom role; the users holding it lose it."""
    role = await _custom_role(session, name)
    granted = await role_permissions(session, name) or set()
    check_can_grant(actor, granted, "delete this role")
    await session.execute(delete(UserRole).where(UserRole.role == name))
    await session.delete(role)
    await session.flush()
    await audit.record(
        session,
        meta,
        "role.deleted",
        actor_id=actor.user_id,
        entity_type="role",
        entity_id=name,
        diff={"permissions": sorted(granted)},
    )
