"""The zones package's errors: references to zones that do not fit (each a 400 problem
document with a stable `code`; shops, accounts and orders raise them through `zones.service`)."""

from __future__ import annotations

from loumo.core.errors import BadRequest


class UnknownZone(BadRequest):
    code, title = "unknown_zone", "Unknown zone"


class AddressOutsideZone(BadRequest):
    code, title = "address_outside_zone", "Address outside the given zone"


class AddressOutsideZones(BadRequest):
    code, title = "address_outside_zones", "Address outside every delivery zone"
