"""Business settings: a registry of typed knobs with environment defaults; public ones for
everyone, all for `settings:read`; staff with `settings:write` set and reset them (only known
keys, values checked against their type: a 422 on `value`), every change audited; the reader
other packages use gives the stored value, else the default, typed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.audit.models import AuditEntry
from loumo.content import registry
from loumo.content import settings as business
from loumo.content.models import StoredSetting
from loumo.content.registry import Knob, SettingType
from loumo.core.settings import Settings
from tests.conftest import AuthHeaders
from tests.content.conftest import API


def by_key(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert page["next_cursor"] is None
    return {s["key"]: s for s in page["items"]}


async def test_everyone_reads_public_settings_and_staff_read_all(
    client: httpx.AsyncClient, auth_headers: AuthHeaders, settings: Settings
) -> None:
    public = by_key((await client.get(f"{API}/settings")).json())
    assert set(public) == {"contact_phone", "fidelity_rate"}
    assert public["fidelity_rate"] == {
        "key": "fidelity_rate",
        "section": "orders",
        "type": "decimal",
        "description": public["fidelity_rate"]["description"],
        "public": True,
        "value": str(settings.fidelity_rate),
        "default": str(settings.fidelity_rate),
        "is_default": True,
        "updated_at": None,
    }
    assert (
        public["contact_phone"]["value"] == "" and public["contact_phone"]["section"] == "contact"
    )
    assert (await client.get(f"{API}/settings/order_payment_timeout")).status_code == 404
    assert (await client.get(f"{API}/settings/no_such_thing")).status_code == 404
    assert (await client.get(f"{API}/settings/Not-A-Key")).status_code == 422

    reader = await auth_headers("setreader00000000000000000000001", permissions=["settings:read"])
    every = by_key((await client.get(f"{API}/settings", headers=reader)).json())
    assert list(every) == [
        "contact_phone",
        "delivery_auto_assign",
        "delivery_code_ttl",
        "delivery_default_eta",
        "fidelity_rate",
        "order_complete_after",
        "order_payment_timeout",
    ]
    assert every["order_payment_timeout"]["value"] == "PT30M"
    assert every["order_complete_after"]["default"] == "P1D"
    orders = by_key(
        (await client.get(f"{API}/settings", params={"section": "orders"}, headers=reader)).json()
    )
    assert set(orders) == {"fidelity_rate", "order_complete_after", "order_payment_timeout"}
    one = await client.get(f"{API}/settings/order_payment_timeout", headers=reader)
    assert one.status_code == 200 and one.json()["type"] == "duration"
    customer = await auth_headers("customer000000000000000000000001")
    assert (
        await client.get(f"{API}/settings/order_complete_after", headers=customer)
    ).status_code == 404


async def test_staff_set_and_reset_a_setting_and_each_change_is_audited(
    client: httpx.AsyncClient, settings_staff: dict[str, str], db: AsyncSession
) -> None:
    url = f"{API}/settings/fidelity_rate"
    changed = await client.put(url, json={"value": "2.5"}, headers=settings_staff)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["value"], body["default"], body["is_default"]) == ("2.5", "1", False)
    assert body["updated_at"] is not None
    assert (await client.get(url)).json()["value"] == "2.5"
    again = await client.put(url, json={"value": 2.5}, headers=settings_staff)  # same value
    assert again.status_code == 200 and again.json()["value"] == "2.5"
    number = await client.put(url, json={"value": 3}, headers=settings_staff)
    assert number.json()["value"] == "3"

    reset = await client.delete(url, headers=settings_staff)
    assert reset.status_code == 204
    after = (await client.get(url)).json()
    assert (after["value"], after["is_default"], after["updated_at"]) == ("1", True, None)
    assert (await client.delete(url, headers=settings_staff)).status_code == 204  # nothing stored

    entries = (
        await db.execute(
            select(AuditEntry.action, AuditEntry.entity_id, AuditEntry.diff, AuditEntry.actor_id)
            .where(AuditEntry.entity_type == "setting")
            .order_by(AuditEntry.created_at, AuditEntry.id)
        )
    ).all()
    assert [(a, e, d) for a, e, d, _ in entries] == [
        ("setting.updated", "fidelity_rate", {"value": ["1", "2.5"], "was_default": True}),
        ("setting.updated", "fidelity_rate", {"value": ["2.5", "3"], "was_default": False}),
        ("setting.reset", "fidelity_rate", {"value": ["3", "1"], "was_default": False}),
    ]
    assert {actor for *_, actor in entries} == {"setstaff000000000000000000000001"}


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("fidelity_rate", -1, "value"),
        ("fidelity_rate", "beaucoup", "value"),
        ("fidelity_rate", True, "value"),
        ("fidelity_rate", "NaN", "value"),
        ("fidelity_rate", None, "value"),
        ("order_payment_timeout", 0, "value"),
        ("order_payment_timeout", "soon", "value"),
        ("order_payment_timeout", "P400D", "value"),
        ("order_complete_after", -60, "value"),
        ("contact_phone", "call me", "value"),
        ("contact_phone", 237650000000, "value"),
    ],
)
async def test_a_value_that_does_not_fit_its_type_is_a_422_on_value(
    client: httpx.AsyncClient,
    settings_staff: dict[str, str],
    db: AsyncSession,
    key: str,
    value: Any,
    field: str,
) -> None:
    response = await client.put(
        f"{API}/settings/{key}", json={"value": value}, headers=settings_staff
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "validation_error"
    assert {(e["field"], e["location"]) for e in problem["errors"]} == {(field, "body")}
    assert await db.scalar(select(func.count()).select_from(StoredSetting)) == 0
    assert await db.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_durations_and_phones_take_their_usual_forms(
    client: httpx.AsyncClient, settings_staff: dict[str, str]
) -> None:
    url = f"{API}/settings/order_payment_timeout"
    iso = await client.put(url, json={"value": "PT45M"}, headers=settings_staff)
    assert iso.status_code == 200 and iso.json()["value"] == "PT45M"
    seconds = await client.put(url, json={"value": 600}, headers=settings_staff)
    assert seconds.json()["value"] == "PT10M"
    phone = await client.put(
        f"{API}/settings/contact_phone", json={"value": "+237 650 00 00 00"}, headers=settings_staff
    )
    assert phone.status_code == 200
    assert (await client.get(f"{API}/settings/contact_phone")).json()[
        "value"
    ] == "+237 650 00 00 00"


async def test_only_known_keys_and_only_settings_writers(
    client: httpx.AsyncClient, settings_staff: dict[str, str], auth_headers: AuthHeaders
) -> None:
    unknown = await client.put(
        f"{API}/settings/free_beer", json={"value": 1}, headers=settings_staff
    )
    assert unknown.status_code == 404
    assert (
        await client.delete(f"{API}/settings/free_beer", headers=settings_staff)
    ).status_code == 404
    extra = await client.put(
        f"{API}/settings/fidelity_rate", json={"value": 1, "note": "x"}, headers=settings_staff
    )
    assert extra.status_code == 422
    missing = await client.put(f"{API}/settings/fidelity_rate", json={}, headers=settings_staff)
    assert missing.status_code == 422
    reader = await auth_headers("setreader00000000000000000000001", permissions=["settings:read"])
    url = f"{API}/settings/fidelity_rate"
    assert (await client.put(url, json={"value": 2})).status_code == 401
    assert (await client.put(url, json={"value": 2}, headers=reader)).status_code == 403
    assert (await client.delete(url, headers=reader)).status_code == 403
    # A writer sees private settings too.
    every = (await client.get(f"{API}/settings", headers=settings_staff)).json()
    assert len(every["items"]) == len(registry.KNOBS)


EXTRA = (
    Knob[int](
        key="test_int",
        section="test",
        type=SettingType.INT,
        description="",
        env_default=lambda s: 3,
    ),
    Knob[bool](
        key="test_bool",
        section="test",
        type=SettingType.BOOL,
        description="",
        env_default=lambda s: False,
    ),
    Knob[registry.Money](
        key="test_money",
        section="test",
        type=SettingType.MONEY,
        description="",
        env_default=lambda s: registry.Money(amount=500, currency="XAF"),
    ),
)


@pytest.fixture
def extra_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    for knob in EXTRA:
        monkeypatch.setitem(registry.KNOBS, knob.key, knob)


@pytest.mark.usefixtures("extra_knobs")
@pytest.mark.parametrize(
    ("key", "good", "shown", "bad", "bad_field"),
    [
        ("test_int", 42, 42, "42", "value"),
        ("test_int", -7, -7, 1.5, "value"),
        ("test_bool", True, True, "true", "value"),
        ("test_bool", False, False, 1, "value"),
        (
            "test_money",
            {"amount": 1500, "currency": "XAF"},
            {"amount": 1500, "currency": "XAF"},
            {"amount": -1, "currency": "XAF"},
            "value.amount",
        ),
        (
            "test_money",
            {"amount": 0, "currency": "EUR"},
            {"amount": 0, "currency": "EUR"},
            {"amount": 10, "currency": "euro"},
            "value.currency",
        ),
    ],
)
async def test_every_type_checks_its_values(
    client: httpx.AsyncClient,
    settings_staff: dict[str, str],
    key: str,
    good: Any,
    shown: Any,
    bad: Any,
    bad_field: str,
) -> None:
    url = f"{API}/settings/{key}"
    refused = await client.put(url, json={"value": bad}, headers=settings_staff)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == [bad_field]
    stored = await client.put(url, json={"value": good}, headers=settings_staff)
    assert stored.status_code == 200, stored.text
    assert stored.json()["value"] == shown


async def test_the_reader_gives_the_stored_value_else_the_default_typed(
    app: FastAPI, client: httpx.AsyncClient, settings_staff: dict[str, str], settings: Settings
) -> None:
    async with app.state.db.sessionmaker() as session:
        assert await business.value(session, business.FIDELITY_RATE, settings) == Decimal(1)
        timeout = await business.value(session, business.ORDER_PAYMENT_TIMEOUT, settings)
        assert timeout == timedelta(minutes=30)
        assert await business.value(session, business.CONTACT_PHONE, settings) == ""

    # The writing process sees its own write at once (its cache is cleared on commit).
    await client.put(
        f"{API}/settings/order_payment_timeout", json={"value": "PT2H"}, headers=settings_staff
    )
    await client.put(f"{API}/settings/fidelity_rate", json={"value": "0.5"}, headers=settings_staff)
    async with app.state.db.sessionmaker() as session:
        rate = await business.value(session, business.FIDELITY_RATE, settings)
        assert rate == Decimal("0.5") and isinstance(rate, Decimal)
        timeout = await business.value(session, business.ORDER_PAYMENT_TIMEOUT, settings)
        assert timeout == timedelta(hours=2)


async def test_another_process_write_is_seen_within_the_cache_bound(
    app: FastAPI, db: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert business.CACHE_SECONDS <= 2
    async with app.state.db.sessionmaker() as session:
        assert await business.value(session, business.FIDELITY_RATE, settings) == Decimal(1)
    # As another process would: a row written without this process's cache knowing.
    db.add(StoredSetting(key="fidelity_rate", value="4"))
    await db.commit()
    async with app.state.db.sessionmaker() as session:
        assert await business.value(session, business.FIDELITY_RATE, settings) == Decimal(1)
        monkeypatch.setattr(business, "CACHE_SECONDS", 0.0)  # the bound has passed
        assert await business.value(session, business.FIDELITY_RATE, settings) == Decimal(4)


async def test_a_stored_value_that_no_longer_fits_gives_the_default(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    db.add(StoredSetting(key="order_payment_timeout", value="not a duration"))
    await db.commit()
    async with app.state.db.sessionmaker() as session:
        timeout = await business.value(session, business.ORDER_PAYMENT_TIMEOUT, settings)
    assert timeout == settings.order_payment_timeout
