"""The registry of every model, so that Alembic and the tests see the whole schema."""

from loumo.catalog.models import Category, Product, ProductImage, Variant
from loumo.core.db import Base
from loumo.delivery.models import Zone
from loumo.jobs.models import Job
from loumo.shops.models import Shop, Stock, StockMovement, shop_managers

metadata = Base.metadata

__all__ = [
    "Base",
    "Category",
    "Job",
    "Product",
    "ProductImage",
    "Shop",
    "Stock",
    "StockMovement",
    "Variant",
    "Zone",
    "metadata",
    "shop_managers",
]
