"""Catalog demo data: zones, a category tree, shops, products with variants, and stock.

Everything is generated from word lists with a fixed random seed (no network), inserted in bulk,
and keyed by natural keys (zone names, category slugs, shop slugs, product references), so that
running the seed twice changes nothing. Product images are left empty: the media package adds
generated images at integration.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import JSON, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.derived import VariantFacts, derived_columns
from loumo.catalog.models import Category, Product, Variant
from loumo.catalog.text import slugify
from loumo.core.db import utcnow
from loumo.core.ids import new_id
from loumo.seed.words import DESCRIPTIONS, HOURS, QUALIFIERS, SHOPS, TREE, ZONES, Item, Size
from loumo.shops.models import Shop, Stock, StockMovement
from loumo.zones.models import Zone

DEMO_PRODUCTS = 300
SEED_REASON = "seed"


@dataclass(frozen=True)
class Leaf:
    category_id: str
    sizes: list[Size]
    items: list[Item]


@dataclass(frozen=True)
class Structure:
    """What products are generated into: leaf categories and shops."""

    leaves: list[Leaf]
    shop_ids: list[str]


async def _bulk_insert(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (fast enough for 100,000 products); multi-row INSERT elsewhere."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        columns = list(rows[0])
        as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
        records = [
            tuple(orjson.dumps(r[c]).decode() if c in as_json else r[c] for c in columns)
            for r in rows
        ]
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=columns
        )
        return
    for start in range(0, len(rows), 2000):
        await session.execute(insert(table), list(rows[start : start + 2000]))


async def ensure_structure(session: AsyncSession) -> Structure:
    """Zones, categories and shops of the demo, created where missing."""
    now = utcnow()
    zone_ids: list[str] = []
    for name, description, fee, localities in ZONES:
        zone = await session.scalar(select(Zone).where(Zone.name == name))
        if zone is None:
            zone = Zone(name=name, description=description, delivery_fee=fee, currency="XAF")
            session.add(zone)
        if not zone.localities:  # also zones seeded before zones had coverage
            zone.localities = localities
        await session.flush()
        zone_ids.append(zone.id)

    leaves: list[Leaf] = []
    for position, (root_fr, root_en, children) in enumerate(TREE):
        root = await _ensure_category(session, root_fr, root_en, None, position)
        for child_position, (leaf_fr, leaf_en, sizes, items) in enumerate(children):
            leaf = await _ensure_category(session, leaf_fr, leaf_en, root, child_position)
            leaves.append(Leaf(leaf.id, sizes, items))

    shop_ids: list[str] = []
    for name, address, zone_index in SHOPS:
        slug = slugify(name)
        shop = await session.scalar(select(Shop).where(Shop.slug == slug))
        if shop is None:
            shop = Shop(
                name=name,
                slug=slug,
                address=address,
                zone_id=zone_ids[zone_index],
                opening_hours=HOURS,
                created_at=now,
            )
            session.add(shop)
            await session.flush()
        shop_ids.append(shop.id)
    return Structure(leaves, shop_ids)


async def _ensure_category(
    session: AsyncSession, name: str, name_en: str, parent: Category | None, position: int
) -> Category:
    slug = slugify(name)
    parent_match = (
        Category.parent_id.is_(None) if parent is None else Category.parent_id == parent.id
    )
    category = await session.scalar(select(Category).where(parent_match, Category.slug == slug))
    if category is None:
        category_id = new_id()
        category = Category(
            id=category_id,
            name=name,
            name_en=name_en,
            slug=slug,
            parent_id=parent.id if parent else None,
            path=(parent.path if parent else "/") + category_id + "/",
            position=position,
        )
        session.add(category)
        await session.flush()
    return category


def _products(
    structure: Structure,
    rng: random.Random,
    numbers: range,
    *,
    prefix: str,
    variants_per_product: int | None,
    shops_per_variant: int | None,
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    """Rows of products `numbers`: (product, its variants, their stock)."""
    now = utcnow()
    combos = [
        (leaf, item, q) for leaf in structure.leaves for item in leaf.items for q in QUALIFIERS
    ]
    for number in numbers:
        leaf, (item_fr, item_en, base), (q_fr, q_en, factor) = combos[number % len(combos)]
        lap = number // len(combos)
        suffix = f" n°{lap + 1}" if lap else ""
        name_fr, name_en = f"{item_fr} {q_fr}{suffix}", q_en.format(item_en) + suffix
        desc_fr, desc_en = DESCRIPTIONS[number % len(DESCRIPTIONS)]
        reference = f"{prefix}{number:07d}"
        product_id = new_id()
        count = variants_per_product or rng.randint(1, 3)
        variants: list[dict[str, Any]] = []
        for k, (weight, unit, label) in enumerate(leaf.sizes[:count]):
            price = int(round(base * factor * (1 + k * 0.9) / 25) * 25)
            variants.append(
                {
                    "id": new_id(),
                    "product_id": product_id,
                    "name": label,
                    "sku": f"{reference}-{k + 1}",
                    "price": price,
                    "currency": "XAF",
                    "weight": weight,
                    "unit": unit,
                    "position": k,
                    "is_active": True,
                    "image_key": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        product = {
            "id": product_id,
            "reference": reference,
            "slug": f"{slugify(name_fr)}-{reference.lower()}",
            "category_id": leaf.category_id,
            "name_fr": name_fr,
            "name_en": name_en,
            "description_fr": desc_fr,
            "description_en": desc_en,
            "is_active": True,
            "currency": "XAF",
            "created_at": now,
            "updated_at": now,
            "image_keys": [],
        }
        facts = [VariantFacts(v["sku"], v["name"], v["price"], True) for v in variants]
        product |= derived_columns(product, facts)
        stock: list[dict[str, Any]] = []
        for variant in variants:
            shops = structure.shop_ids
            if shops_per_variant is None:
                shops = rng.sample(shops, rng.randint(2, len(shops)))
            for shop_id in shops:
                quantity = rng.choice([0, 3, 8, 12, 20, 35, 60])
                stock.append(
                    {
                        "shop_id": shop_id,
                        "variant_id": variant["id"],
                        "quantity": quantity,
                        "reserved": 0,
                        "threshold": 5,
                        "restock_date": None,
                        "low_stock_alerted": False,
                        "updated_at": now,
                    }
                )
        yield product, variants, stock


async def _insert_products(
    session: AsyncSession,
    structure: Structure,
    numbers: range,
    *,
    prefix: str,
    variants_per_product: int | None,
    shops_per_variant: int | None,
    chunk: int = 5000,
) -> int:
    rng = random.Random(numbers.start)  # noqa: S311 (demo data, not secrets)
    made = 0
    for start in range(numbers.start, numbers.stop, chunk):
        products, variants, stock = [], [], []
        for p, vs, ss in _products(
            structure,
            rng,
            range(start, min(start + chunk, numbers.stop)),
            prefix=prefix,
            variants_per_product=variants_per_product,
            shops_per_variant=shops_per_variant,
        ):
            products.append(p)
            variants += vs
            stock += ss
        moves = [
            {
                "id": new_id(),
                "shop_id": s["shop_id"],
                "variant_id": s["variant_id"],
                "kind": "set",
                "delta": s["quantity"],
                "quantity_after": s["quantity"],
                "reason": SEED_REASON,
                "actor_user_id": None,
                "created_at": s["updated_at"],
            }
            for s in stock
        ]
        await _bulk_insert(session, Product.__table__, products)  # type: ignore[arg-type]
        await _bulk_insert(session, Variant.__table__, variants)  # type: ignore[arg-type]
        await _bulk_insert(session, Stock.__table__, stock)  # type: ignore[arg-type]
        await _bulk_insert(session, StockMovement.__table__, moves)  # type: ignore[arg-type]
        made += len(products)
    return made


async def seed_catalog(session: AsyncSession) -> int:
    """The demo catalog: 3 zones, 20 categories, 5 shops, 300 products with 1-3 variants.

    Idempotent: products already present (by reference) are kept as they are. Returns the
    number of products created.
    """
    structure = await ensure_structure(session)
    existing = set(
        await session.scalars(select(Product.reference).where(Product.reference.like("DEMO%")))
    )
    missing = [n for n in range(DEMO_PRODUCTS) if f"DEMO{n:07d}" not in existing]
    made = 0
    for run in _runs(missing):
        made += await _insert_products(
            session,
            structure,
            run,
            prefix="DEMO",
            variants_per_product=None,
            shops_per_variant=None,
        )
    await session.flush()
    return made


async def seed_scale(session: AsyncSession, count: int) -> int:
    """Benchmark data: `count` more products with 3 variants each, stocked in all 5 shops."""
    structure = await ensure_structure(session)
    start = int(
        await session.scalar(
            select(func.count()).select_from(Product).where(Product.reference.like("SCALE%"))
        )
        or 0
    )
    made = await _insert_products(
        session,
        structure,
        range(start, start + count),
        prefix="SCALE",
        variants_per_product=3,
        shops_per_variant=len(structure.shop_ids),
    )
    await session.flush()
    return made


def _runs(numbers: list[int]) -> Iterator[range]:
    """Consecutive stretches of `numbers`, as ranges."""
    if not numbers:
        return
    start = previous = numbers[0]
    for n in numbers[1:]:
        if n != previous + 1:
            yield range(start, previous + 1)
            start = n
        previous = n
    yield range(start, previous + 1)
