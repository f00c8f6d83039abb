"""The permission catalog and the built-in roles.

Permissions are `resource:action` strings. Built-in roles are defined here, in code, so that
they exist in every database and cannot be edited away; staff add custom roles through `/roles`.
Every domain declares its permissions at import time with `register_permission(...)`, naming
the built-in roles that hold them; the registry lives in `core` so that any domain can.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def register_permission(name: str, description: str, *, roles: Iterable[str] = ()) -> None:
    """Add `name` to the catalog and grant it to the given built-in roles."""
    resource, _, action = name.partition(":")
    if not resource or not action:
        raise ValueError(f"a permission is 'resource:action', not {name!r}")
    PERMISSIONS[name] = description
    for role in roles:
        BUILTIN_ROLES[role].add(name)


register_permission("users:read", "List and read user accounts", roles=[SUPPORT])
register_permission("users:write", "Edit and deactivate user accounts")
register_permission("roles:read", "List roles and permissions", roles=[SUPPORT])
register_permission("roles:write", "Create, change and delete custom roles")
register_permission("roles:assign", "Assign roles to users")
register_permission("audit:read", "Read the audit log")
