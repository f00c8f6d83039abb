"""The shops package's permissions, registered with the permission catalog when imported."""

from __future__ import annotations

from loumo.core.permissions import register_permission

SHOPS_WRITE = "shops:write"
STOCK_WRITE = "stock:write"

register_permission(SHOPS_WRITE, "Create and change any shop and assign its managers")
register_permission(STOCK_WRITE, "Change the stock of any shop (managers change their own)")
