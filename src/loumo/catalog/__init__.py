"""The catalog: the category tree, products and their variants, and the product listing.

What is where:
- `categories.py`: the category tree (reads and staff writes; materialised paths).
- `products.py`: product writes (create with variants and images inline, change, deactivate).
- `variants.py`: variants of a product: reads with availability, writes, SKU checks.
- `images.py`: the image field of reads, and a product's ordered list of images.
- `listing.py`: the product reads (one product, and search, filter, sort, cursor), the hot path.
- `derived.py`: columns the service keeps on a product (search text, sort keys, lowest price).
- `availability.py`: stock availability in reads, provided by `shops` through a registered source.
- `rows.py`: loading one category, product or variant row (unknown or hidden: 404).
- `errors.py`, `permissions.py`, `text.py` (slugs, accent folding), `models.py`, `schemas.py`,
  `router.py` (HTTP only).
Services answer read schemas (or, on the hot read path, JSON-ready dicts shaped like them).
"""

from loumo.catalog.permissions import PERMISSIONS

__all__ = ["PERMISSIONS"]
