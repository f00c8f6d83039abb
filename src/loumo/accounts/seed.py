"""Provisioning from the command line: the first admin and the demo users."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User, UserRole
from loumo.accounts.passwords import check_password_policy
from loumo.accounts.roles import roles_of
from loumo.accounts.schemas import normalize_email
from loumo.accounts.sessions import revoke_sessions
from loumo.accounts.users import user_by_email
from loumo.audit import service as audit
from loumo.core import permissions as perms
from loumo.core import security
from loumo.core.db import utcnow

DEMO_MANAGER_EMAIL = "manager@loumo.example"
DEMO_USERS = [
    (perms.CUSTOMER, "Demo Customer", "customer@loumo.example", "demo-customer-2026"),
    (perms.SHOP_MANAGER, "Demo Shop Manager", DEMO_MANAGER_EMAIL, "demo-manager-2026"),
    (perms.DELIVERY_AGENT, "Demo Delivery Agent", "agent@loumo.example", "demo-agent-2026"),
    (perms.SUPPORT, "Demo Support", "support@loumo.example", "demo-support-2026"),
    (perms.ADMIN, "Demo Admin", "admin@loumo.example", "demo-admin-2026"),
]


async def provision_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str,
    roles: Iterable[str],
) -> tuple[User, bool]:
    """Create a verified, active user with `roles`, or add the roles to an existing one.

    Returns the user and whether it was created. The password is set on creation, and on an
    existing account whose address was never verified: anyone may have registered it (to be
    promoted with their own password), so the operator's password replaces theirs, the address
    counts as verified, and the account's sessions are revoked.
    """
    check_password_policy(password, email)
    user = await user_by_email(session, email)
    created = user is None
    squatted = user is not None and user.email_verified_at is None
    if user is None:
        user = User(
            email=email,
            name=name,
            password_hash=await security.hash_password(password),
            email_verified_at=utcnow(),
        )
        session.add(user)
        await session.flush()
    elif squatted:
        user.password_hash = await security.hash_password(password)
        user.email_verified_at = utcnow()
        await revoke_sessions(session, "provisioned", user_id=user.id)
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
        diff={"roles": sorted(set(roles)), "created": created, "reclaimed": squatted},
    )
    return user, created


async def create_admin(session: AsyncSession, email: str, password: str, name: str) -> bool:
    """Create (or promote) an admin; True when the account was created.

    Raises `ValueError` for an invalid email and `WeakPassword` for a weak password.
    """
    _, created = await provision_user(
        session,
        email=normalize_email(email),
        password=password,
        name=name,
        roles=[perms.ADMIN],
    )
    return created


async def seed_demo_users(session: AsyncSession) -> list[tuple[str, str, str]]:
    """One verified demo user per built-in role (idempotent); returns (role, email, password)."""
    for role, name, email, password in DEMO_USERS:
        await provision_user(session, email=email, password=password, name=name, roles=[role])
    return [(role, email, password) for role, _, email, password in DEMO_USERS]
