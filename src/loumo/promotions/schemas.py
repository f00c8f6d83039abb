"""Request and response bodies of the promotions API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from loumo.core.schemas import Currency, Id, Input, PatchInput, Read, UtcDatetime, field_problems

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{1,39}$"),
]
Kind = Literal["percentage", "fixed"]
Scope = Literal["all", "categories", "products", "shops"]
MAX_AMOUNT = 10**9  # minor units; fits the 32-bit columns, like catalog prices
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT)]
Uses = Annotated[int, Field(ge=1, le=MAX_AMOUNT)]


class PromotionTerms(Input):
    """What a promotion takes off and where, and when: the rules that keep these coherent are
    checked here only, on the body that creates a promotion and on a stored promotion merged
    with the body that changes it (422 either way)."""

    kind: Kind
    value: int = Field(
        gt=0, le=MAX_AMOUNT, description="Percent (1-100) or an amount in minor units of `currency`"
    )
    scope: Scope = "all"
    target_ids: list[Id] = Field(
        default_factory=list, max_length=500, description="Categories, products or shops"
    )
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        problems = {}
        if self.kind == "percentage" and self.value > 100:
            problems["value"] = "a percentage is at most 100"
        if self.scope == "all" and self.target_ids:
            problems["target_ids"] = "target_ids are only for a scoped promotion"
        if self.scope != "all" and not self.target_ids:
            problems["target_ids"] = f"a promotion scoped to {self.scope} needs target_ids"
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            problems["ends_at"] = "ends_at must be after starts_at"
        if problems:
            raise field_problems(self, problems)
        return self


class PromotionCreate(PromotionTerms):
    code: Code = Field(description="Case-insensitive; stored upper-cased")
    description: str = Field(default="", max_length=300)
    currency: Currency = "XAF"
    min_order_amount: Amount | None = None
    max_uses: Uses | None = None
    max_uses_per_customer: Uses | None = None
    is_active: bool = True


class PromotionUpdate(PatchInput):
    """Fields to change; kind, scope and currency are fixed once created. `null` lifts a limit
    (`min_order_amount`, `starts_at`, `ends_at`, `max_uses`, `max_uses_per_customer`)."""

    patch_of = PromotionCreate
    fixed = frozenset({"code", "kind", "scope", "currency"})
    nullable = frozenset(
        {"min_order_amount", "starts_at", "ends_at", "max_uses", "max_uses_per_customer"}
    )


class PromotionRead(Read):
    id: str
    code: str
    description: str
    kind: Kind
    value: int
    currency: str
    min_order_amount: int | None
    scope: Scope
    target_ids: list[str]
    starts_at: datetime | None
    ends_at: datetime | None
    max_uses: int | None
    max_uses_per_customer: int | None
    uses_count: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class BasketLine(Input):
    variant_id: Id
    shop_id: Id
    quantity: int = Field(ge=1, le=1000)


class PromotionCheck(Input):
    code: str = Field(min_length=1, max_length=64)
    items: list[BasketLine] = Field(min_length=1, max_length=100)


Reason = Literal[
    "not_valid",
    "unknown_code",
    "inactive",
    "not_started",
    "expired",
    "exhausted",
    "customer_limit_reached",
    "minimum_not_reached",
    "not_applicable",
    "currency_mismatch",
]


class PromotionCheckResult(BaseModel):
    """Whether the code applies to the basket and what it takes off (amounts in minor units)."""

    code: str
    valid: bool
    reason: Reason | None = None
    message: str
    subtotal: int
    eligible_subtotal: int
    discount: int
    currency: str
