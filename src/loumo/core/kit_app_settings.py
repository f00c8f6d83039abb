"""The settings the running app was built with, as a route reads them: `app_settings(request)`.

They live on `app.state.settings` (set by the app factory); routes read them through this one
typed function (a business setting's default, a provider's configuration) rather than each
router keeping its own copy of it.
"""

from __future__ import annotations

from fastapi import Request

from loumo.core.settings import Settings


def app_settings(request: Request) -> Settings:
    """`request.app.state.settings`, typed."""
    settings: Settings = request.app.state.settings
    return settings
