"""Request and response bodies of the zones API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from loumo.core.schemas import (
    Currency,
    Input,
    Latitude,
    Longitude,
    Name,
    PatchInput,
    Read,
    clean_text,
)
from loumo.zones.coverage import normalise_locality

Description = Annotated[str, StringConstraints(max_length=2000)]


def _locality(value: str) -> str:
    if not normalise_locality(value):
        raise ValueError("a locality needs at least one letter or digit")
    return value


def _distinct(values: list[str]) -> list[str]:
    """One entry per locality, as first written ("Bastos" and "bâstos" are one)."""
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(normalise_locality(value), value)
    return list(seen.values())


def _polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]  # a closed ring: the closing point repeats the first
    if len(set(points)) < 3:
        raise ValueError("a polygon needs at least 3 distinct points")
    return points


Locality = Annotated[
    str, StringConstraints(max_length=120), AfterValidator(clean_text), AfterValidator(_locality)
]
Localities = Annotated[
    list[Locality],
    Field(
        max_length=500,
        description="Localities the zone covers, matched without regard to case or accents",
    ),
    AfterValidator(_distinct),
]
Polygon = Annotated[
    list[tuple[Latitude, Longitude]],
    Field(
        min_length=3,
        max_length=1000,
        description="The area the zone covers: `[[lat, lng], ...]`, at least 3 distinct points",
    ),
    AfterValidator(_polygon),
]


class ZoneCreate(Input):
    name: Name
    description: Description = ""
    delivery_fee: int = Field(ge=0, le=10**9, description="Integer minor units of `currency`")
    currency: Currency = "XAF"
    is_active: bool = True
    localities: Localities = []
    polygon: Polygon | None = None


class ZoneUpdate(PatchInput):
    """Fields to change; `localities: []` empties the list, `polygon: null` removes the area."""

    patch_of = ZoneCreate
    nullable = frozenset({"polygon"})


class ZoneRead(Read):
    id: str
    name: str
    description: str
    delivery_fee: int
    currency: str
    is_active: bool
    localities: list[str]
    polygon: list[tuple[float, float]] | None
    created_at: datetime
    updated_at: datetime
