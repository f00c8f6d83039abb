"""Promotions: promo codes and their discounts (`service`), and their uses (`uses`)."""

from loumo.core.permissions import SUPPORT, Permission

PERMISSIONS = (
    Permission("promotions:read", "List and read promotions", roles=(SUPPORT,)),
    Permission("promotions:write", "Create, change and retire promotions"),
)
