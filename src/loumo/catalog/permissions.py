"""The catalog's permissions, registered with the permission catalog when imported."""

from __future__ import annotations

from loumo.core.permissions import register_permission

CATEGORIES_WRITE = "categories:write"
PRODUCTS_WRITE = "products:write"

register_permission(CATEGORIES_WRITE, "Create, change and retire categories")
register_permission(PRODUCTS_WRITE, "Create, change and retire products and variants")
