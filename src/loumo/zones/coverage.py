"""What a zone covers, as plain functions: locality names matched without regard to case or
accents, and a polygon of `[lat, lng]` points tested by ray casting (no GIS dependency)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_SEPARATORS = re.compile(r"[\W_]+")

Polygon = Sequence[Sequence[float]]


def normalise_locality(name: str) -> str:
    """The one form localities are compared in: accents dropped, case folded, and every run of
    spaces, dashes and punctuation made one space ("Bâstos" and "bastos", "Centre-Ville" and
    "centre ville" are alike)."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", bare.casefold()).strip()


def inside(polygon: Polygon, latitude: float, longitude: float) -> bool:
    """Whether the point lies inside the polygon (even-odd ray casting along the longitude;
    a point exactly on an edge may fall either way). Points are `[lat, lng]`, the polygon is
    implicitly closed, and coordinates are treated as a plane (zones are city-sized)."""
    found = False
    count = len(polygon)
    for i in range(count):
        lat_i, lng_i = polygon[i][0], polygon[i][1]
        lat_j, lng_j = polygon[i - 1][0], polygon[i - 1][1]
        if (lat_i > latitude) != (lat_j > latitude):
            crossing = lng_i + (latitude - lat_i) * (lng_j - lng_i) / (lat_j - lat_i)
            if longitude < crossing:
                found = not found
    return found


def area(polygon: Polygon) -> float:
    """The polygon's area in square degrees (shoelace): the smaller of two overlapping zones
    is the more precise one."""
    total = 0.0
    for i in range(len(polygon)):
        total += polygon[i - 1][0] * polygon[i][1] - polygon[i][0] * polygon[i - 1][1]
    return abs(total) / 2
