"""The wiring: one place plugs every port in, and a port nobody fills stops the start."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from loumo import wiring
from loumo.core import permissions
from loumo.core.policy import POLICY_KEY
from loumo.core.settings import Settings
from loumo.main import create_app
from tests.conftest import make_settings


@pytest.fixture
def plain_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.mark.parametrize("port", ["availability", "recipients"])
def test_the_app_refuses_to_start_when_a_port_is_missing(
    plain_settings: Settings, monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    # As if shops (availability) or accounts (recipients) were not part of the build: the
    # catalog would list products with no stock anywhere, alerts would reach nobody.
    shipped = wiring.default_ports()
    missing: dict[str, wiring.Ports] = {
        "availability": dataclasses.replace(shipped, availability=None),
        "recipients": dataclasses.replace(shipped, recipients=None),
    }
    monkeypatch.setattr(wiring, "default_ports", lambda: missing[port])
    with pytest.raises(wiring.MissingPort, match=port):
        create_app(plain_settings)


def test_every_declared_permission_is_registered_with_its_roles(plain_settings: Settings) -> None:
    ports = wiring.build(plain_settings)
    names = [p.name for p in ports.permissions]
    assert len(names) == len(set(names)), "a permission is declared twice"
    for declared in ports.permissions:
        assert permissions.PERMISSIONS[declared.name] == declared.description
        for role in declared.roles:
            assert declared.name in permissions.BUILTIN_ROLES[role]
    assert {"users:read", "audit:read", "zones:write", "stock:write"} <= set(names)


def test_every_permission_a_route_requires_is_declared(app: FastAPI) -> None:
    required = {
        kind.removeprefix("permission:")
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        and isinstance(kind := (route.openapi_extra or {}).get(POLICY_KEY), str)
        and kind.startswith("permission:")
    }
    assert required, "no route requires a permission: the walk found nothing"
    assert required <= permissions.PERMISSIONS.keys()
