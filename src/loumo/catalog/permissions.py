"""The catalog's permissions (registered by `loumo.wiring`)."""

from __future__ import annotations

from loumo.core.permissions import Permission

CATEGORIES_WRITE = "categories:write"
PRODUCTS_WRITE = "products:write"

PERMISSIONS = (
    Permission(CATEGORIES_WRITE, "Create, change and retire categories"),
    Permission(PRODUCTS_WRITE, "Create, change and retire products and variants"),
)
