"""The shops package's own errors (each a problem document with a stable `code`)."""

from __future__ import annotations

from loumo.core.errors import Conflict


class InsufficientStock(Conflict):
    code, title = "insufficient_stock", "Insufficient stock"
