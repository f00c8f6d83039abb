"""The catalog's own errors (each a problem document with a stable `code`)."""

from __future__ import annotations

from loumo.core.errors import BadRequest, Conflict


class CategoryCycle(Conflict):
    code, title = "category_cycle", "Category cycle"


class TooDeep(BadRequest):
    code, title = "category_too_deep", "Category tree too deep"


class UnknownCategory(BadRequest):
    code, title = "unknown_category", "Unknown category"


class CurrencyMismatch(BadRequest):
    code, title = "currency_mismatch", "Currency mismatch"


class InvalidPriceRange(BadRequest):
    code, title = "invalid_price_range", "Invalid price range"


class DuplicateImage(BadRequest):
    code, title = "duplicate_image", "Duplicate image"


class TooManyImages(Conflict):
    code, title = "too_many_images", "Too many images"
