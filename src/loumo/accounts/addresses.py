"""The caller's delivery addresses (`/me/addresses`): each placed in an active zone that accepts
it (`zones.service.place`), one the default."""

from __future__ import annotations

from sqlalchemy import Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import Address
from loumo.accounts.schemas import AddressCreate, AddressRead, AddressUpdate
from loumo.core.auth import Principal
from loumo.core.errors import NotFound
from loumo.zones import service as zones_service


def _own_addresses(principal: Principal) -> Select[Address]:
    """The one place deciding which addresses a caller sees: their own."""
    return select(Address).where(Address.user_id == principal.user_id)


async def _place(
    session: AsyncSession, address: Address, zone_id: str | None, keep: str | None = None
) -> None:
    zone = await zones_service.place(
        session, address.locality, address.latitude, address.longitude, zone_id=zone_id, keep=keep
    )
    address.zone_id = zone.id


async def list_addresses(session: AsyncSession, principal: Principal) -> list[AddressRead]:
    query = _own_addresses(principal).order_by(Address.is_default.desc(), Address.id)
    return [AddressRead.model_validate(row) for row in await session.scalars(query)]


async def get_address(session: AsyncSession, principal: Principal, address_id: str) -> AddressRead:
    return AddressRead.model_validate(await _address(session, principal, address_id))


async def _address(session: AsyncSession, principal: Principal, address_id: str) -> Address:
    address = await session.scalar(_own_addresses(principal).where(Address.id == address_id))
    if address is None:
        raise NotFound("No such address")
    return address


async def _make_default(session: AsyncSession, principal: Principal, address: Address) -> None:
    await session.execute(
        update(Address)
        .where(Address.user_id == principal.user_id, Address.id != address.id)
        .values(is_default=False)
        .execution_options(synchronize_session=False)
    )
    address.is_default = True


async def create_address(
    session: AsyncSession, principal: Principal, data: AddressCreate
) -> AddressRead:
    """Add an address; the first one, or one sent with `is_default`, becomes the default."""
    has_any = await session.scalar(select(exists(_own_addresses(principal))))
    address = Address(user_id=principal.user_id, **data.model_dump(exclude={"is_default"}))
    await _place(session, address, data.zone_id)
    session.add(address)
    await session.flush()
    if data.is_default or not has_any:
        await _make_default(session, principal, address)
    await session.flush()
    await session.refresh(address)
    return AddressRead.model_validate(address)


async def update_address(
    session: AsyncSession, principal: Principal, address_id: str, data: AddressUpdate
) -> AddressRead:
    address = await _address(session, principal, address_id)
    values = data.model_dump(exclude_unset=True)
    make_default = values.pop("is_default", None)
    zone_id = values.pop("zone_id", None)
    for name, value in values.items():
        setattr(address, name, value)
    if zone_id is not None or values.keys() & {"locality", "latitude", "longitude"}:
        await _place(session, address, zone_id, keep=address.zone_id)
    if make_default:
        await _make_default(session, principal, address)
    await session.flush()
    await session.refresh(address)
    return AddressRead.model_validate(address)


async def delete_address(session: AsyncSession, principal: Principal, address_id: str) -> None:
    """Delete; when it was the default, the oldest remaining address becomes the default."""
    address = await _address(session, principal, address_id)
    was_default = address.is_default
    await session.delete(address)
    await session.flush()
    if was_default:
        successor = await session.scalar(_own_addresses(principal).order_by(Address.id).limit(1))
        if successor is not None:
            successor.is_default = True
            await session.flush()
