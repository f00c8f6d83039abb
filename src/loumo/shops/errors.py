"""The shops package's own errors (each a problem document with a stable `code`)."""

from __future__ import annotations

from loumo.core.errors import Conflict


class InsufficientStock(Conflict):
    code, title = "insufficient_stock", "Insufficient stock"


class StockHoldLost(Conflict):
    """A checkout's held stock was given back (by the stale-holds job) before its order was
    written: the checkout took longer than `STOCK_HOLD_SECONDS`. Nothing was placed."""

    code, title = "stock_hold_lost", "Stock hold lost"
