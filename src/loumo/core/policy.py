"""Route access policies, declared on every route and checked by a test.

`@router.get("/me", **policy("authenticated"))` records the policy in the OpenAPI operation
(`x-policy`), so that clients can read it and `tests/test_route_policies.py` can refuse any
route without one. The policy documents the route; the dependencies (`CurrentPrincipal`,
`require(permission)`) and the service's ownership checks enforce it.
"""

from __future__ import annotations

from typing import Any

POLICY_KEY = "x-policy"
KINDS = ("public", "authenticated", "owner")


def policy(kind: str) -> dict[str, Any]:
    """Route keyword arguments declaring `kind`: public, authenticated, owner or permission:x."""
    if kind not in KINDS and not (kind.startswith("permission:") and ":" in kind[11:]):
        raise ValueError(f"unknown route policy {kind!r}")
    return {"openapi_extra": {POLICY_KEY: kind}}
