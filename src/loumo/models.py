"""The registry of every model, so that Alembic and the tests see the whole schema."""

from loumo.accounts.models import (
    Address,
    AuthSession,
    OneTimeCode,
    RefreshToken,
    Role,
    RolePermission,
    User,
    UserRole,
)
from loumo.audit.models import AuditEntry
from loumo.core.db import Base
from loumo.delivery.models import Zone
from loumo.jobs.models import Job, PeriodicRun
from loumo.media.models import MediaFile
from loumo.notifications.models import Notification

metadata = Base.metadata

__all__ = [
    "Address",
    "AuditEntry",
    "AuthSession",
    "Base",
    "Job",
    "MediaFile",
    "Notification",
    "OneTimeCode",
    "PeriodicRun",
    "RefreshToken",
    "Role",
    "RolePermission",
    "User",
    "UserRole",
    "Zone",
    "metadata",
]
