"""Shops, their managers, and stock per (shop, variant)."""

from loumo.core.permissions import Permission

PERMISSIONS = (
    Permission("shops:write", "Create and change any shop and assign its managers"),
    Permission("stock:write", "Change the stock of any shop (managers change their own)"),
)
