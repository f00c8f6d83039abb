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

`install(app)` registers on the app what `loumo.core.auth` needs: the principal loader and
`app.state.principal_enrichers`, a list other domains append to (e.g. shops add the ids of the
shops a manager runs to `Principal.managed_shop_ids`).
"""

from __future__ import annotations

from fastapi import FastAPI

from loumo.accounts.principal import PrincipalEnricher, principal_loader


def install(app: FastAPI) -> None:
    enrichers: list[PrincipalEnricher] = []
    app.state.principal_enrichers = enrichers
    app.state.principal_loader = principal_loader(enrichers)
