"""The permission catalog and the built-in roles.

Permissions are `resource:action` strings. Built-in roles are defined here, in code, so that
they exist in every database and cannot be edited away; staff add custom roles through `/roles`.
Every domain declares the permissions it checks as a `PERMISSIONS` tuple of `Permission` in its
package (`loumo/<domain>/__init__.py`), naming the built-in roles that hold them; the wiring
(`loumo.wiring.build`) registers them all at start-up. The registry lives in `core` so that any
domain can declare, and no domain needs another to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CUSTOMER = "customer"
SHOP_MANAGER = "shop_manager"
DELIVERY_AGENT = "delivery_agent"
SUPPORT = "support"
ADMIN = "admin"
ALL = "*"

PERMISSIONS: dict[str, str] = {}
BUILTIN_ROLES: dict[str, set[str]] = {
    CUSTOMER: set(),
    SHOP_MANAGER: set(),
    DELIVERY_AGENT: set(),
    SUPPORT: set(),
    ADMIN: {ALL},
}
BUILTIN_DESCRIPTIONS = {
    CUSTOMER: "Buys; manages their own profile, addresses and orders",
    SHOP_MANAGER: "Runs the shops they manage: products, stock, their orders",
    DELIVERY_AGENT: "Delivers the orders assigned to them",
    SUPPORT: "Helps customers: reads accounts and orders",
    ADMIN: "Every permission",
}


@dataclass(frozen=True, slots=True)
class Permission:
    """A permission a domain checks: `resource:action`, what it allows, who holds it built in."""

    name: str
    description: str
    roles: tuple[str, ...] = ()


def register_permissions(declared: Iterable[Permission]) -> None:
    """Add each declared permission to the catalog (idempotent)."""
    for permission in declared:
        register_permission(permission.name, permission.description, roles=permission.roles)


def register_permission(name: str, description: str, *, roles: Iterable[str] = ()) -> None:
    """Add `name` to the catalog and grant it to the given built-in roles."""
    resource, _, action = name.partition(":")
    if not resource or not action:
        raise ValueError(f"a permission is 'resource:action', not {name!r}")
    PERMISSIONS[name] = description
    for role in roles:
        BUILTIN_ROLES[role].add(name)
