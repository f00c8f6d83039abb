"""The word lists the demo catalog is generated from: zones, shops, the category tree with its
items and sizes, name qualifiers and descriptions (French first, then English)."""

from __future__ import annotations

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
