"""The word lists the demo catalog is generated from: zones, shops, the category tree with its
items and sizes (its words in `catalog_tree.json`), name qualifiers and descriptions (French
first, then English)."""

from __future__ import annotations

from loumo.core.data_files import read_data

ZONES = [  # name, description, delivery fee, the localities it covers
    ("Douala Akwa", "Akwa, Bonanjo et Deïdo", 1000, ["Akwa", "Bonanjo", "Deïdo"]),
    (
        "Douala Bonapriso",
        "Bonapriso, Bali et Bonamoussadi",
        1500,
        ["Bonapriso", "Bali", "Bonamoussadi"],
    ),
    ("Yaoundé Bastos", "Bastos, Golf et Centre-ville", 1500, ["Bastos", "Golf", "Centre-ville"]),
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
Leaf = tuple[str, str, list[Size], list[Item]]  # leaf fr, leaf en, sizes, items
SIZES = {
    "kilos": KILOS,
    "grams": GRAMS,
    "litres": LITRES,
    "small_liquid": SMALL_LIQUID,
    "pieces": PIECES,
}


def _tree() -> list[tuple[str, str, list[Leaf]]]:
    """The category tree, from `catalog_tree.json` (roots with their leaves, each leaf's sizes
    named by a key of `SIZES` and its items as `[fr, en, price]`)."""
    roots = read_data("loumo.seed", "catalog_tree.json")
    return [
        (
            root["fr"],
            root["en"],
            [
                (
                    leaf["fr"],
                    leaf["en"],
                    SIZES[leaf["sizes"]],
                    [(fr, en, price) for fr, en, price in leaf["items"]],
                )
                for leaf in root["leaves"]
            ],
        )
        for root in roots
    ]


TREE = _tree()  # [(root fr, root en, [(leaf fr, leaf en, sizes, items)])]
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
