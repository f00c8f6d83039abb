"""The registry of every model, so that Alembic and the tests see the whole schema."""

from loumo.accounts.models import (
    Address,
    AuthSession,
    Favorite,
    FidelityEntry,
    OneTimeCode,
    RefreshToken,
    Role,
    RolePermission,
    User,
    UserRole,
)
from loumo.audit.models import AuditEntry
from loumo.catalog.models import Category, Product, ProductImage, Variant
from loumo.content.models import FaqEntry, FaqTopic, StoredSetting
from loumo.core.db import Base
from loumo.core.idempotency import IdempotencyRecord
from loumo.jobs.models import Job, PeriodicRun
from loumo.media.models import MediaFile
from loumo.notifications.models import Notification
from loumo.orders.models import Fulfilment, Order, OrderEvent, OrderItem, OrderRefund
from loumo.payments.models import Payment, Refund, WebhookEvent
from loumo.payments.sandbox.models import SandboxCallback, SandboxDeposit, SandboxRefund
from loumo.promotions.models import Promotion, PromotionRedemption, PromotionTarget
from loumo.shops.models import Shop, Stock, StockMovement, shop_managers
from loumo.zones.models import Zone

metadata = Base.metadata

__all__ = [
    "Address",
    "AuditEntry",
    "AuthSession",
    "Base",
    "Category",
    "FaqEntry",
    "FaqTopic",
    "Favorite",
    "FidelityEntry",
    "Fulfilment",
    "IdempotencyRecord",
    "Job",
    "MediaFile",
    "Notification",
    "OneTimeCode",
    "Order",
    "OrderEvent",
    "OrderItem",
    "OrderRefund",
    "Payment",
    "PeriodicRun",
    "Product",
    "ProductImage",
    "Promotion",
    "PromotionRedemption",
    "PromotionTarget",
    "RefreshToken",
    "Refund",
    "Role",
    "RolePermission",
    "SandboxCallback",
    "SandboxDeposit",
    "SandboxRefund",
    "Shop",
    "Stock",
    "StockMovement",
    "StoredSetting",
    "User",
    "UserRole",
    "Variant",
    "WebhookEvent",
    "Zone",
    "metadata",
    "shop_managers",
]
