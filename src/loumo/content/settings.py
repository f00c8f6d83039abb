"""Business settings: the reader every package uses, and the staff reads and writes.

Reading: `await value(session, FIDELITY_RATE, settings)` gives the stored value if staff set
one, else the knob's environment default, as the knob's type. The stored values (one small
table) are cached per process for `CACHE_SECONDS` (2 s), so a hot path such as checkout costs
one query per process every 2 s at most; a write clears the cache of the process that wrote,
at once and again when its transaction commits, so that process never serves the old value
after its write. Other processes see a change within `CACHE_SECONDS`.

Writing (`/settings/{key}`, staff): only keys of the registry; a value is checked against its
knob's type and checks (a 422 naming `value`); every change and reset goes to the audit log
with the old and new value.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from loumo.audit.service import RequestMeta, record
from loumo.content.models import StoredSetting
from loumo.content.registry import (
    CONTACT_PHONE,
    FIDELITY_RATE,
    KNOBS,
    ORDER_COMPLETE_AFTER,
    ORDER_PAYMENT_TIMEOUT,
    Knob,
)
from loumo.content.schemas import SettingRead
from loumo.core.auth import Principal
from loumo.core.db import flush_or_conflict
from loumo.core.errors import InvalidPayload, NotFound, field_errors
from loumo.core.pagination import Page
from loumo.core.settings import Settings

__all__ = [
    "CACHE_SECONDS",
    "CONTACT_PHONE",
    "FIDELITY_RATE",
    "ORDER_COMPLETE_AFTER",
    "ORDER_PAYMENT_TIMEOUT",
    "forget",
    "value",
]

T = TypeVar("T")
logger = structlog.get_logger("loumo.content")

CACHE_SECONDS = 2.0
# Stored values by database URL: (when read, {key: JSON value}).
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def forget() -> None:
    """Drop this process's cached values (a write does it; tests do between tests)."""
    _cache.clear()


def _cache_key(session: AsyncSession) -> str:
    return str(session.get_bind().engine.url)


async def _stored(session: AsyncSession) -> dict[str, Any]:
    where = _cache_key(session)
    now = time.monotonic()
    hit = _cache.get(where)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    rows = await session.execute(select(StoredSetting.key, StoredSetting.value))
    values: dict[str, Any] = dict(rows.all())
    _cache[where] = (now, values)
    return values


def _parse_stored(knob: Knob[T], raw: Any, settings: Settings) -> T:
    try:
        return knob.parse(raw)
    except ValidationError:
        # A value stored under older checks: the default rules until staff store a new one.
        logger.warning("setting_stored_value_invalid", key=knob.key)
        return knob.default(settings)


async def value(session: AsyncSession, knob: Knob[T], settings: Settings) -> T:
    """The value of `knob` in effect: the stored one if staff set it, else its default from
    `settings` (the environment)."""
    stored = await _stored(session)
    if knob.key not in stored:
        return knob.default(settings)
    return _parse_stored(knob, stored[knob.key], settings)


def _read(knob: Knob[Any], row: StoredSetting | None, settings: Settings) -> SettingRead:
    default = knob.dump(knob.default(settings))
    current = default if row is None else knob.dump(_parse_stored(knob, row.value, settings))
    return SettingRead(
        key=knob.key,
        section=knob.section,
        type=knob.type.value,
        description=knob.description,
        public=knob.public,
        value=current,
        default=default,
        is_default=row is None,
        updated_at=None if row is None else row.updated_at,
    )


def _knob(key: str, *, include_private: bool) -> Knob[Any]:
    knob = KNOBS.get(key)
    if knob is None or not (knob.public or include_private):
        raise NotFound(f"No setting {key}")
    return knob


async def list_settings(
    session: AsyncSession, settings: Settings, *, include_private: bool, section: str | None
) -> Page[SettingRead]:
    """Every known setting the caller may read, by section then key, in one page."""
    knobs = sorted(
        (
            k
            for k in KNOBS.values()
            if (k.public or include_private) and (section is None or k.section == section)
        ),
        key=lambda k: (k.section, k.key),
    )
    rows = {
        row.key: row
        for row in await session.scalars(
            select(StoredSetting).where(StoredSetting.key.in_([k.key for k in knobs]))
        )
    }
    return Page[SettingRead](items=[_read(k, rows.get(k.key), settings) for k in knobs])


async def get_setting(
    session: AsyncSession, settings: Settings, key: str, *, include_private: bool
) -> SettingRead:
    knob = _knob(key, include_private=include_private)
    return _read(knob, await session.get(StoredSetting, key), settings)


def _forget_when_committed(session: AsyncSession) -> None:
    forget()

    def on_commit(_session: Session) -> None:
        forget()

    event.listen(session.sync_session, "after_commit", on_commit, once=True)


async def set_setting(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    key: str,
    raw: Any,
    *,
    meta: RequestMeta | None,
) -> SettingRead:
    """Store `raw` as `key`'s value once it passes the knob's checks (else a 422 on `value`);
    audited with the old and new value. Storing the value in effect changes nothing."""
    knob = _knob(key, include_private=True)
    try:
        new = knob.dump(knob.parse(raw))
    except ValidationError as exc:
        raise InvalidPayload(
            errors=field_errors([{**e, "loc": ("body", "value", *e["loc"])} for e in exc.errors()])
        ) from None
    row = await session.get(StoredSetting, key, with_for_update=True)
    if row is not None and row.value == new:
        return _read(knob, row, settings)
    was_default = row is None
    old = knob.dump(knob.default(settings)) if row is None else row.value
    if row is None:
        row = StoredSetting(key=key, value=new, updated_by=principal.user_id)
        session.add(row)
    else:
        row.value, row.updated_by = new, principal.user_id
    await flush_or_conflict(session, f"The setting {key} is being changed; try again")
    await record(
        session,
        meta,
        "setting.updated",
        actor_id=principal.user_id,
        entity_type="setting",
        entity_id=key,
        diff={"value": [old, new], "was_default": was_default},
    )
    _forget_when_committed(session)
    await session.refresh(row)
    return _read(knob, row, settings)


async def reset_setting(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    key: str,
    *,
    meta: RequestMeta | None,
) -> SettingRead:
    """Drop `key`'s stored value, so that its environment default applies again (audited;
    nothing to do when none is stored)."""
    knob = _knob(key, include_private=True)
    row = await session.get(StoredSetting, key, with_for_update=True)
    if row is None:
        return _read(knob, None, settings)
    old = row.value
    await session.delete(row)
    await session.flush()
    await record(
        session,
        meta,
        "setting.reset",
        actor_id=principal.user_id,
        entity_type="setting",
        entity_id=key,
        diff={"value": [old, knob.dump(knob.default(settings))], "was_default": False},
    )
    _forget_when_committed(session)
    return _read(knob, None, settings)
