"""The permissions of the payments package (registered by `loumo.wiring`)."""

from loumo.core.permissions import SUPPORT, Permission

READ_PERMISSION = "payments:read"
REFUND_PERMISSION = "payments:refund"

PERMISSIONS = (
    Permission(READ_PERMISSION, "Read every payment and refund", roles=(SUPPORT,)),
    Permission(REFUND_PERMISSION, "Refund payments, wholly or by lines"),
)
