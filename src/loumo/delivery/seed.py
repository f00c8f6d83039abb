"""The demo delivery agent's profile (`loumo seed --demo`): the demo user holding the
`delivery_agent` role serves every active zone; idempotent: a profile already there (whatever
staff changed in it) is left as it is."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import User
from loumo.accounts.seed import DEMO_USERS
from loumo.core.permissions import DELIVERY_AGENT
from loumo.delivery.models import DeliveryAgent
from loumo.zones.models import Zone

DEMO_AGENT_EMAIL = next(email for role, _, email, _ in DEMO_USERS if role == DELIVERY_AGENT)
DEMO_VEHICLE = "Moto"


async def seed_demo_agent(session: AsyncSession) -> bool:
    """Give the demo agent user a profile serving every active zone; True when created
    (False when it exists, or when the demo users were not seeded)."""
    user_id = await session.scalar(select(User.id).where(User.email == DEMO_AGENT_EMAIL))
    if user_id is None:
        return False
    if await session.scalar(select(DeliveryAgent.id).where(DeliveryAgent.user_id == user_id)):
        return False
    zone_ids = list(await session.scalars(select(Zone.id).where(Zone.is_active).order_by(Zone.id)))
    session.add(DeliveryAgent(user_id=user_id, zone_ids=zone_ids, vehicle=DEMO_VEHICLE))
    await session.flush()
    return True
