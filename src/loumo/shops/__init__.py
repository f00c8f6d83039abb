"""Shops: the shops themselves, who manages them, and stock per (shop, variant).

What is where:
- `shops.py`: shops (public reads, staff writes) and the shop's image.
- `managers.py`: the managers of a shop, and the shops a caller manages (principal enricher).
- `stock.py`: stock as managers and stock staff read and change it (who may: `stock_shop`).
- `ledger.py`: the one write path of every stock change: conditional UPDATE, ledger row,
  low-stock crossing (defers the `stock.low` job).
- `reservations.py`: `reserve`, `release`, `commit_sale`, for checkouts.
- `alerts.py`: the low-stock alert sent by the `stock.low` job (`tasks.py`).
- `availability.py`: stock availability for the catalog's reads (registered by the app factory).
- `errors.py`, `permissions.py`, `models.py`, `schemas.py`, `router.py` (HTTP only).
Services answer read schemas.
"""

from loumo.shops.permissions import PERMISSIONS

__all__ = ["PERMISSIONS"]
