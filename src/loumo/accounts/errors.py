"""The errors of the accounts rules (each a problem document with a stable `code`).

The three marked `keep_changes` are failures that must leave a trace: the unit of work commits
what was flushed before answering (a failed login's audit row, a wrong code's attempt count).
"""

from __future__ import annotations

from loumo.core.errors import AppError, BadRequest, Conflict, PermissionDenied, Unauthorized


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Invalid credentials"
    keep_changes = True


class InvalidRefreshToken(Unauthorized):
    code, title = "invalid_refresh_token", "Invalid refresh token"
    keep_changes = True


class InvalidCode(BadRequest):
    code, title = "invalid_code", "Invalid or expired code"
    keep_changes = True


class WeakPassword(AppError):
    status, code, title = 422, "weak_password", "Password too weak"


class UnknownReference(AppError):
    status, code, title = 422, "unknown_reference", "Unknown reference"


class BuiltinRole(Conflict):
    code, title = "builtin_role", "Built-in roles cannot be changed"


class Outranked(PermissionDenied):
    code, title = "outranked", "The user holds permissions you do not"
