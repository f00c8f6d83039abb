"""Accounts: users, authentication, roles and permissions, addresses.

`install(app)` registers on the app what `loumo.core.auth` needs: the principal loader and
`app.state.principal_enrichers`, a list other domains append to (e.g. shops add the ids of the
shops a manager runs to `Principal.managed_shop_ids`).
"""

from __future__ import annotations

from fastapi import FastAPI

from loumo.accounts.service import PrincipalEnricher, principal_loader


def install(app: FastAPI) -> None:
    enrichers: list[PrincipalEnricher] = []
    app.state.principal_enrichers = enrichers
    app.state.principal_loader = principal_loader(enrichers)
