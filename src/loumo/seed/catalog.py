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
from loumo.shops.models import Shop, Stock, StockMovement
from loumo.zones.models import Zone

DEMO_PRODUCTS = 300
SEED_REASON = "seed"

ZONES = [
    ("Douala Akwa", "Akwa, Bonanjo et Deïdo", 1000),
    ("Douala Bonapriso", "Bonapriso, Bali et Bonamoussadi", 1500),
    ("Yaoundé Bastos", "Bastos, Golf et Centre-ville", 1500),
]
SHOPS = [
    ("Marché d'Akwa", "Boulevard de la Liberté, Akwa", 0),
    ("Épicerie Deïdo", "Rue Joss, Deïdo", 0),
    ("Supérette Bonapriso", "Rue Njo-Njo, Bonapriso", 1),
    ("Boutique Bastos", "Rue 1.750, Bastos", 2),
    ("Halle du Centre", "Avenue Kennedy, Yaoundé", 2),
]
HOURS = {
    day: [{"open": "08:00", "close": "20:00"}] for day in ("mon", "tue", "wed", "thu", "fri", "sat")
} | {"sun": [{"open": "09:00", "close": "13:00"}]}

Size = tuple[float, str, str]  # weight, unit, label
KILOS: list[Size] = [(0.5, "kg", "500 g"), (1, "kg", "1 kg"), (5, "kg", "5 kg")]
GRAMS: list[Size] = [(125, "g", "125 g"), (250, "g", "250 g"), (500, "g", "500 g")]
LITRES: list[Size] = [(0.5, "l", "50 cl"), (1, "l", "1 L"), (1.5, "l", "1,5 L")]
SMALL_LIQUID: list[Size] = [(200, "ml", "20 cl"), (500, "ml", "50 cl"), (1, "l", "1 L")]
PIECES: list[Size] = [
    (1, "piece", "À l'unité"),
    (6, "piece", "Lot de 6"),
    (12, "piece", "Lot de 12"),
]

Item = tuple[str, str, int]  # French name, English name, base price (XAF)
# (root fr, root en) -> [(leaf fr, leaf en, sizes, items)]
TREE: list[tuple[str, str, list[tuple[str, str, list[Size], list[Item]]]]] = [
    (
        "Fruits et légumes",
        "Fruits and vegetables",
        [
            (
                "Fruits",
                "Fruit",
                KILOS,
                [
                    ("Mangues", "Mangoes", 900),
                    ("Ananas", "Pineapples", 700),
                    ("Bananes plantain", "Plantains", 600),
                    ("Papayes", "Papayas", 800),
                    ("Avocats", "Avocados", 1000),
                ],
            ),
            (
                "Légumes",
                "Vegetables",
                KILOS,
                [
                    ("Tomates", "Tomatoes", 800),
                    ("Oignons", "Onions", 600),
                    ("Gombos", "Okra", 900),
                    ("Piments", "Chilli peppers", 1200),
                    ("Feuilles de ndolé", "Ndole leaves", 1500),
                ],
            ),
            (
                "Herbes et épices",
                "Herbs and spices",
                GRAMS,
                [
                    ("Poivre de Penja", "Penja pepper", 2500),
                    ("Gingembre", "Ginger", 700),
                    ("Ail", "Garlic", 600),
                    ("Njansang", "Njansang seeds", 1800),
                    ("Curcuma", "Turmeric", 900),
                ],
            ),
        ],
    ),
    (
        "Épicerie",
        "Grocery",
        [
            (
                "Riz et pâtes",
                "Rice and pasta",
                KILOS,
                [
                    ("Riz parfumé", "Fragrant rice", 900),
                    ("Spaghetti", "Spaghetti", 700),
                    ("Riz brisé", "Broken rice", 600),
                    ("Macaronis", "Macaroni", 750),
                    ("Couscous de maïs", "Corn couscous", 800),
                ],
            ),
            (
                "Huiles et condiments",
                "Oils and condiments",
                LITRES,
                [
                    ("Huile de palme", "Palm oil", 1500),
                    ("Huile d'arachide", "Peanut oil", 1800),
                    ("Vinaigre", "Vinegar", 700),
                    ("Sauce tomate", "Tomato sauce", 900),
                    ("Moutarde", "Mustard", 1100),
                ],
            ),
            (
                "Conserves",
                "Canned food",
                GRAMS,
                [
                    ("Sardines à l'huile", "Sardines in oil", 600),
                    ("Concentré de tomate", "Tomato paste", 400),
                    ("Petits pois", "Green peas", 700),
                    ("Maquereaux", "Mackerel", 900),
                    ("Haricots rouges", "Red beans", 650),
                ],
            ),
            (
                "Farines et céréales",
                "Flours and cereals",
                KILOS,
                [
                    ("Farine de blé", "Wheat flour", 700),
                    ("Farine de manioc", "Cassava flour", 800),
                    ("Flocons d'avoine", "Oat flakes", 1500),
                    ("Semoule de maïs", "Corn semolina", 700),
                    ("Tapioca", "Tapioca", 900),
                ],
            ),
        ],
    ),
    (
        "Produits laitiers",
        "Dairy",
        [
            (
                "Lait",
                "Milk",
                SMALL_LIQUID,
                [
                    ("Lait entier", "Whole milk", 800),
                    ("Lait demi-écrémé", "Semi-skimmed milk", 800),
                    ("Lait concentré sucré", "Sweetened condensed milk", 900),
                    ("Lait en poudre", "Powdered milk", 2500),
                    ("Lait de coco", "Coconut milk", 1100),
                ],
            ),
            (
                "Yaourts",
                "Yogurts",
                PIECES,
                [
                    ("Yaourt nature", "Plain yogurt", 300),
                    ("Yaourt à la fraise", "Strawberry yogurt", 350),
                    ("Yaourt à boire", "Drinking yogurt", 400),
                    ("Yaourt grec", "Greek yogurt", 500),
                    ("Fromage blanc", "Fromage frais", 450),
                ],
            ),
            (
                "Crèmes et beurres",
                "Cream and butter",
                GRAMS,
                [
                    ("Crème fraîche", "Fresh cream", 1200),
                    ("Beurre doux", "Unsalted butter", 1500),
                    ("Beurre demi-sel", "Salted butter", 1500),
                    ("Crème dessert", "Custard", 900),
                    ("Crème de karité", "Shea cream", 2000),
                ],
            ),
        ],
    ),
    (
        "Boissons",
        "Drinks",
        [
            (
                "Eaux",
                "Water",
                LITRES,
                [
                    ("Eau minérale", "Mineral water", 400),
                    ("Eau gazeuse", "Sparkling water", 600),
                    ("Eau de source", "Spring water", 350),
                    ("Eau aromatisée", "Flavoured water", 700),
                    ("Eau de coco", "Coconut water", 1200),
                ],
            ),
            (
                "Jus",
                "Juice",
                LITRES,
                [
                    ("Jus de bissap", "Hibiscus juice", 800),
                    ("Jus de gingembre", "Ginger juice", 800),
                    ("Jus d'orange", "Orange juice", 1200),
                    ("Jus d'ananas", "Pineapple juice", 1100),
                    ("Nectar de goyave", "Guava nectar", 1000),
                ],
            ),
            (
                "Cafés et thés",
                "Coffee and tea",
                GRAMS,
                [
                    ("Café moulu", "Ground coffee", 2500),
                    ("Café en grains", "Coffee beans", 2800),
                    ("Thé vert", "Green tea", 1500),
                    ("Thé noir", "Black tea", 1300),
                    ("Cacao en poudre", "Cocoa powder", 2000),
                ],
            ),
        ],
    ),
    (
        "Maison et hygiène",
        "Home and personal care",
        [
            (
                "Entretien",
                "Cleaning",
                LITRES,
                [
                    ("Liquide vaisselle", "Washing-up liquid", 900),
                    ("Eau de javel", "Bleach", 600),
                    ("Lessive liquide", "Liquid detergent", 2500),
                    ("Nettoyant sol", "Floor cleaner", 1500),
                    ("Savon de Marseille", "Marseille soap", 800),
                ],
            ),
            (
                "Hygiène",
                "Personal care",
                PIECES,
                [
                    ("Savon au karité", "Shea soap", 500),
                    ("Dentifrice", "Toothpaste", 900),
                    ("Shampooing", "Shampoo", 1800),
                    ("Papier toilette", "Toilet paper", 400),
                    ("Brosse à dents", "Toothbrush", 600),
                ],
            ),
        ],
    ),
]
QUALIFIERS = [  # French suffix, English pattern, price factor
    ("bio", "Organic {}", 1.4),
    ("du Cameroun", "{} from Cameroon", 1.0),
    ("premium", "Premium {}", 1.6),
    ("format familial", "Family-size {}", 0.9),
]
DESCRIPTIONS = [
    (
        "Sélectionné avec soin par nos producteurs partenaires.",
        "Carefully selected by our partner producers.",
    ),
    ("Idéal pour la cuisine de tous les jours.", "Ideal for everyday cooking."),
    ("Qualité contrôlée, livré frais chez vous.", "Quality checked, delivered fresh to your door."),
    ("Le goût authentique, au meilleur prix.", "Authentic taste at the best price."),
]


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
    for name, description, fee in ZONES:
        zone = await session.scalar(select(Zone).where(Zone.name == name))
        if zone is None:
            zone = Zone(name=name, description=description, delivery_fee=fee, currency="XAF")
            session.add(zone)
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
        derived = derived_columns(
            reference=reference,
            name_fr=name_fr,
            name_en=name_en,
            description_fr=desc_fr,
            description_en=desc_en,
            variants=[VariantFacts(v["sku"], v["name"], v["price"], True) for v in variants],
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
            **derived,
        }
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
