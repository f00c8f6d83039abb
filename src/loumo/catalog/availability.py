"""Stock availability in the catalog's reads, provided by `shops` (a package above this one).

`loumo.wiring` plugs shops' `AvailabilitySource` in with `register_availability_source()`, so the
catalog never imports shops; a process whose wiring lacks one refuses to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Availability:
    shop_id: str
    available: int


class AvailabilitySource(Protocol):
    def product_filter(
        self, product_id: Any, *, shop_id: str | None, in_stock: bool
    ) -> ColumnElement[bool]:
        """A correlated condition: the product is stocked (in `shop_id`, with units if asked)."""
        ...

    def availability_column(self, variant_id: Any) -> ColumnElement[str | None]:
        """A correlated column: the variant's stock in active shops as 'shop:available,...'
        (NULL when stocked nowhere). One short string per variant keeps the page query small."""
        ...

    async def for_variants(
        self, session: AsyncSession, variant_ids: Sequence[str]
    ) -> dict[str, list[Availability]]:
        """Availability per active shop of each variant, in one query."""
        ...


_source: AvailabilitySource | None = None


def register_availability_source(source: AvailabilitySource) -> None:
    global _source
    _source = source


def availability_source() -> AvailabilitySource | None:
    """The registered source, or None when no package provides one."""
    return _source


async def for_variants(
    session: AsyncSession, variant_ids: Sequence[str]
) -> dict[str, list[Availability]]:
    """Availability per active shop of each variant (empty without a source)."""
    if _source is None or not variant_ids:
        return {}
    return await _source.for_variants(session, variant_ids)
