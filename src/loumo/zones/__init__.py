"""Delivery zones: where orders are delivered, and at what fee.

- `service.py`: zone reads and staff writes; coverage (`covers`, `accepts`, `zone_for`), where an
  address goes (`place`) and the one unknown-zone check (`check_zone`).
- `coverage.py`: plain functions: locality normalisation, point in polygon, polygon area.
- `errors.py`: `unknown_zone`, `address_outside_zone`, `address_outside_zones` (all 400).
"""

from loumo.core.permissions import Permission

PERMISSIONS = (Permission("zones:write", "Create, change and retire delivery zones"),)
