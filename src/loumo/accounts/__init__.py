"""Accounts: users, authentication, roles and permissions, addresses.

`install(app, enrichers)` registers on the app what `loumo.core.auth` needs: the principal
loader and `app.state.principal_enrichers`, the functions other domains give (through
`loumo.wiring`) to add what they own to a principal (shops add the ids of the shops a manager
runs to `Principal.managed_shop_ids`).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI

from loumo.accounts.service import PrincipalEnricher, principal_loader
from loumo.core.permissions import SUPPORT, Permission

PERMISSIONS = (
    Permission("users:read", "List and read user accounts", roles=(SUPPORT,)),
    Permission("users:write", "Edit and deactivate user accounts"),
    Permission("roles:read", "List roles and permissions", roles=(SUPPORT,)),
    Permission("roles:write", "Create, change and delete custom roles"),
    Permission("roles:assign", "Assign roles to users"),
)


def install(app: FastAPI, enrichers: Iterable[PrincipalEnricher] = ()) -> None:
    held: list[PrincipalEnricher] = list(enrichers)
    app.state.principal_enrichers = held
    app.state.principal_loader = principal_loader(held)
