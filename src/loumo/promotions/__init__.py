"""Promotions: promo codes, their discounts, and their uses."""

from loumo.core.permissions import SUPPORT, Permission

PERMISSIONS = (
    Permission("promotions:read", "List and read promotions", roles=(SUPPORT,)),
    Permission("promotions:write", "Create, change and retire promotions"),
)
