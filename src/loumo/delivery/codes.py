"""The closing code: 6 digits derived, never stored (DESIGN.md).

`code = HMAC-SHA256(key, "<delivery id>:<issue>") mod 10^6`, with a key derived from
`SECRET_KEY` for this use only. Staff reissue by bumping `code_issue` (the old code stops
working) and resetting the tries. A wrong try is counted by one conditional UPDATE that never
passes `MAX_TRIES`, so parallel wrong codes count at most five; then the code is locked.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import as_utc, utcnow
from loumo.delivery.models import Delivery

MAX_TRIES = 5
DIGITS = 6
_PURPOSE = b"loumo.delivery.closing-code.v1"


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def derive(secret_key: str, delivery_id: str, issue: int) -> str:
    """The code of issue `issue` of delivery `delivery_id`."""
    digest = hmac.new(_key(secret_key), f"{delivery_id}:{issue}".encode(), hashlib.sha256)
    return str(int.from_bytes(digest.digest()[:8], "big") % 10**DIGITS).zfill(DIGITS)


def matches(secret_key: str, delivery: Delivery, code: str) -> bool:
    expected = derive(secret_key, delivery.id, delivery.code_issue)
    return hmac.compare_digest(expected, code)


def expires_at(delivery: Delivery, ttl: timedelta) -> datetime | None:
    if delivery.code_issued_at is None:
        return None
    return as_utc(delivery.code_issued_at) + ttl


def expired(delivery: Delivery, ttl: timedelta, now: datetime | None = None) -> bool:
    end = expires_at(delivery, ttl)
    return end is None or (now or utcnow()) >= end


async def count_wrong_try(session: AsyncSession, delivery: Delivery) -> int | None:
    """Count one wrong try of the current issue; the tries now counted, or None when the code
    was already locked (nothing counted)."""
    counted = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery.id,
            Delivery.code_issue == delivery.code_issue,
            Delivery.code_tries < MAX_TRIES,
        )
        .values(code_tries=Delivery.code_tries + 1)
        .returning(Delivery.code_tries)
        .execution_options(synchronize_session=False)
    )
    tries = counted.scalar_one_or_none()
    if tries is not None:
        delivery.code_tries = tries
    return tries


async def reissue(session: AsyncSession, delivery: Delivery) -> None:
    """A new code: the counter bumped (the old code dies), tries reset, the clock restarted."""
    now = utcnow()
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id)
        .values(code_issue=Delivery.code_issue + 1, code_tries=0, code_issued_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(delivery)
