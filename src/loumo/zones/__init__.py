"""Delivery zones: where orders are delivered, and at what fee."""

from loumo.core.permissions import Permission

PERMISSIONS = (Permission("zones:write", "Create, change and retire delivery zones"),)
