"""Who manages which shop: the managers of a shop (staff writes) and the shops of a caller."""

from __future__ import annotations

import dataclasses

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.auth import Principal, PrincipalColumn
from loumo.core.db import insert_ignoring_conflicts
from loumo.core.errors import NotFound
from loumo.shops.models import shop_managers
from loumo.shops.shops import get_shop_row


async def managed_shop_ids(session: AsyncSession, user_id: str) -> frozenset[str]:
    """The shops a user manages (the principal loader reads them through `with_managed_shops`)."""
    rows = await session.scalars(
        select(shop_managers.c.shop_id).where(shop_managers.c.user_id == user_id)
    )
    return frozenset(rows.all())


def _with_managed_shops(principal: Principal, shops: frozenset[str]) -> Principal:
    return dataclasses.replace(principal, managed_shop_ids=shops) if shops else principal


# Principal enricher (see `accounts.install`): adds the shops the caller manages, read in the
# principal loader's statement.
with_managed_shops = PrincipalColumn(
    user_id=shop_managers.c.user_id, value=shop_managers.c.shop_id, apply=_with_managed_shops
)


async def manager_ids(session: AsyncSession, shop_id: str) -> list[str]:
    """The user ids of a shop's managers, in order (the shop is not checked)."""
    rows = await session.scalars(
        select(shop_managers.c.user_id)
        .where(shop_managers.c.shop_id == shop_id)
        .order_by(shop_managers.c.user_id)
    )
    return list(rows.all())


async def list_managers(session: AsyncSession, shop_id: str) -> list[str]:
    shop = await get_shop_row(session, shop_id, include_inactive=True)
    return await manager_ids(session, shop.id)


async def add_manager(session: AsyncSession, shop_id: str, user_id: str) -> None:
    """Make `user_id` a manager of the shop (idempotent)."""
    shop = await get_shop_row(session, shop_id, include_inactive=True)
    try:
        # The foreign key to users is the existence check (shops never import accounts); the
        # savepoint keeps a PostgreSQL transaction usable after it refuses.
        async with session.begin_nested():
            await session.execute(
                insert_ignoring_conflicts(session, shop_managers).values(
                    shop_id=shop.id, user_id=user_id
                )
            )
    except IntegrityError:
        raise NotFound(f"No user {user_id}") from None


async def remove_manager(session: AsyncSession, shop_id: str, user_id: str) -> None:
    shop = await get_shop_row(session, shop_id, include_inactive=True)
    await session.execute(
        delete(shop_managers).where(
            shop_managers.c.shop_id == shop.id, shop_managers.c.user_id == user_id
        )
    )
