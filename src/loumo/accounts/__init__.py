"""Accounts: users, authentication, roles and permissions, addresses, favorites.

What is where (rules in one module per sub-domain; `router.py` is HTTP only):

- `models.py`, `schemas.py`: tables and request/answer bodies.
- `errors.py`: this package's problem codes (`invalid_credentials`, `invalid_code`, …).
- `context.py`: `AuthContext`, what the rules need from the app and the request.
- `signin.py`: sign-in with email and password (`/auth/login`).
- `sessions.py`: sign-in sessions and refresh tokens: open, rotate, revoke, log out, purge.
- `registration.py`: sign-up, email verification, resending the code.
- `password_reset.py`: forgotten password: reset link and code, new password.
- `passwords.py`: the password policy.
- `codes.py`: one-time codes (hashed, expiring, attempt-limited) behind verification and reset.
- `mail.py`: mail to an account holder, through the Email service of `notifications`.
- `profile.py`: the caller's own account (`/me`).
- `addresses.py`: the caller's delivery addresses.
- `favorites.py`: the caller's favorite products.
- `users.py`: accounts as staff see them (`/users`), and the lookup by email.
- `roles.py`: roles and permissions: what a role grants, who holds which, role admin.
- `principal.py`: access-token claims to the current `Principal`.
- `directory.py`: who holds a permission, users as notification recipients.
- `seed.py`: provisioning from the command line (first admin, demo users).
- `tasks.py`: periodic purge of dead sessions and codes; registers the directory.

`install(app, enrichers)` registers on the app what `loumo.core.auth` needs: the principal
loader and `app.state.principal_enrichers`, the functions other domains give (through
`loumo.wiring`) to add what they own to a principal (shops add the ids of the shops a manager
runs to `Principal.managed_shop_ids`).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI

from loumo.accounts.principal import PrincipalEnricher, principal_loader
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
