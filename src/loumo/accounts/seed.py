"""Provisioning from the command line: the first admin and the demo users."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.schemas import normalize_email
from loumo.accounts.service import provision_user
from loumo.core import permissions as perms

DEMO_MANAGER_EMAIL = "manager@loumo.example"
DEMO_USERS = [
    (perms.CUSTOMER, "Demo Customer", "customer@loumo.example", "demo-customer-2026"),
    (perms.SHOP_MANAGER, "Demo Shop Manager", DEMO_MANAGER_EMAIL, "demo-manager-2026"),
    (perms.DELIVERY_AGENT, "Demo Delivery Agent", "agent@loumo.example", "demo-agent-2026"),
    (perms.SUPPORT, "Demo Support", "support@loumo.example", "demo-support-2026"),
    (perms.ADMIN, "Demo Admin", "admin@loumo.example", "demo-admin-2026"),
]


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
