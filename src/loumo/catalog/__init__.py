"""Catalog: categories, products, variants and their images."""

from loumo.core.permissions import Permission

PERMISSIONS = (
    Permission("categories:write", "Create, change and retire categories"),
    Permission("products:write", "Create, change and retire products and variants"),
)
