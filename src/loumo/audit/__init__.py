"""The audit log: who did what to which entity, from where, and what changed."""

from loumo.core.permissions import Permission

PERMISSIONS = (Permission("audit:read", "Read the audit log"),)
