"""Route access policies, declared on every route and checked by a test.

`@router.get("/me", **policy("authenticated"))` records the policy in the OpenAPI operation
(`x-policy`), so that clients can read it and `tests/test_route_policies.py` can refuse any
route without one. The policy documents the route; the dependencies (`CurrentPrincipal`,
`require(permission)`, `manager_or(permission)`) and the service's ownership checks
enforce it.

- `public`: anyone; `authenticated`: any signed-in caller;
- `permission:<resource>:<action>`: holders of that permission (`require`);
- `manager_or:<resource>:<action>`: a manager of the shop in the path, or a holder of the
  permission (`manager_or`);
- `owner`: the caller's own object (the domain's one ownership query; not theirs is a 404).
"""

from __future__ import annotations

from typing import Any

POLICY_KEY = "x-policy"
KINDS = ("public", "authenticated", "owner")
PREFIXED = ("permission:", "manager_or:")  # followed by a permission `<resource>:<action>`


def permission_of(kind: str) -> tuple[str, str] | None:
    """(prefix, permission) of a prefixed kind, None for a plain one."""
    for prefix in PREFIXED:
        if kind.startswith(prefix) and ":" in kind.removeprefix(prefix):
            return prefix, kind.removeprefix(prefix)
    return None


def policy(kind: str) -> dict[str, Any]:
    """Route keyword arguments declaring `kind` (see the module's docstring)."""
    if kind not in KINDS and permission_of(kind) is None:
        raise ValueError(f"unknown route policy {kind!r}")
    return {"openapi_extra": {POLICY_KEY: kind}}
