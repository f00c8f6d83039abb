"""The shops package's permissions (registered by `loumo.wiring`)."""

from __future__ import annotations

from loumo.core.permissions import Permission

SHOPS_WRITE = "shops:write"
STOCK_WRITE = "stock:write"

PERMISSIONS = (
    Permission(SHOPS_WRITE, "Create and change any shop and assign its managers"),
    Permission(STOCK_WRITE, "Change the stock of any shop (managers change their own)"),
)
