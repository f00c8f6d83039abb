"""Promotion rules: staff's promotions, who may use a code and what it takes off a basket.
Counting a promotion's uses is `loumo.promotions.uses`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.catalog.models import Category, Product, Variant
from loumo.core.db import flush_or_conflict, utcnow
from loumo.core.errors import BadRequest, Conflict, NotFound
from loumo.core.pagination import Page, cut_page, id_after, id_cursor
from loumo.core.ratelimit import Rule
from loumo.core.schemas import validate_document
from loumo.promotions.models import Promotion, PromotionTarget
from loumo.promotions.schemas import (
    BasketLine,
    PromotionCheckResult,
    PromotionCreate,
    PromotionRead,
    PromotionTerms,
    PromotionUpdate,
    Reason,
)
from loumo.promotions.uses import customer_uses
from loumo.shops.models import Shop

VALIDATE_PER_USER = Rule("promotion-validate", "30/minute")


class PromotionNotFound(NotFound):
    code, title = "promotion_not_found", "Promotion not found"


class DuplicateCode(Conflict):
    code, title = "duplicate_code", "Code already in use"


class UnknownTarget(BadRequest):
    code, title = "unknown_target", "Unknown promotion target"


class UnknownBasketItem(BadRequest):
    code, title = "unknown_basket_item", "Unknown basket item"


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A basket line priced from the catalog, with what a promotion scope may match on."""

    variant_id: str
    product_id: str
    category_path: str
    shop_id: str
    quantity: int
    unit_price: int
    currency: str

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Evaluation:
    valid: bool
    reason: Reason | None
    subtotal: int
    eligible_subtotal: int
    discount: int
    currency: str


MESSAGES: dict[Reason | None, str] = {
    None: "The code applies to this basket",
    "not_valid": "This code is not valid",
    "unknown_code": "No promotion has this code",
    "inactive": "This promotion is not active",
    "not_started": "This promotion has not started yet",
    "expired": "This promotion has ended",
    "exhausted": "This promotion has been used up",
    "customer_limit_reached": "You have already used this promotion as often as allowed",
    "minimum_not_reached": "The basket is below this promotion's minimum order amount",
    "not_applicable": "Nothing in the basket is covered by this promotion",
    "currency_mismatch": "This promotion is in another currency",
}


# What a customer is never told apart: a code that does not exist, one retired (deactivated or
# ended) and one not started yet all answer "not_valid", so that nobody can probe which codes
# exist or are coming. Staff holding `promotions:read` see the detail.
UNDISCLOSED: frozenset[Reason] = frozenset({"unknown_code", "inactive", "not_started", "expired"})


def disclosed(reason: Reason | None, *, detailed: bool) -> Reason | None:
    """The reason a caller is told: the detail for staff, `not_valid` for the undisclosed."""
    return "not_valid" if not detailed and reason in UNDISCLOSED else reason


def normalize_code(code: str) -> str:
    return code.strip().upper()


async def _read(session: AsyncSession, promotion: Promotion) -> PromotionRead:
    targets = await session.scalars(
        select(PromotionTarget.target_id)
        .where(PromotionTarget.promotion_id == promotion.id)
        .order_by(PromotionTarget.target_id)
    )
    data = {c.key: getattr(promotion, c.key) for c in Promotion.__table__.columns}
    return PromotionRead(**data, target_ids=list(targets))


async def _check_targets(session: AsyncSession, scope: str, target_ids: Sequence[str]) -> None:
    column = {"categories": Category.id, "products": Product.id, "shops": Shop.id}.get(scope)
    if column is None or not target_ids:
        return
    found = set(await session.scalars(select(column).where(column.in_(set(target_ids)))))
    missing = sorted(set(target_ids) - found)
    if missing:
        raise UnknownTarget(f"No {scope} with id {', '.join(missing)}")


async def _set_targets(session: AsyncSession, promotion_id: str, target_ids: Sequence[str]) -> None:
    await session.execute(
        delete(PromotionTarget).where(PromotionTarget.promotion_id == promotion_id)
    )
    session.add_all(
        PromotionTarget(promotion_id=promotion_id, target_id=t) for t in sorted(set(target_ids))
    )


async def _load(session: AsyncSession, promotion_id: str) -> Promotion:
    promotion = await session.get(Promotion, promotion_id)
    if promotion is None:
        raise PromotionNotFound(f"No promotion {promotion_id}")
    return promotion


async def create_promotion(session: AsyncSession, data: PromotionCreate) -> PromotionRead:
    code = normalize_code(data.code)
    if await session.scalar(select(Promotion.id).where(Promotion.code == code)):
        raise DuplicateCode(f"The code {code} is already in use")
    await _check_targets(session, data.scope, data.target_ids)
    values = data.model_dump(exclude={"target_ids", "code"})
    promotion = Promotion(code=code, **values)
    session.add(promotion)
    await flush_or_conflict(
        session, f"The code {code} is already in use", field="code", error=DuplicateCode
    )
    await _set_targets(session, promotion.id, data.target_ids)
    await session.flush()
    return await _read(session, promotion)


async def update_promotion(
    session: AsyncSession, promotion_id: str, data: PromotionUpdate
) -> PromotionRead:
    promotion = await _load(session, promotion_id)
    changes = data.model_dump(exclude_unset=True)
    current = await _read(session, promotion)
    terms = {name: getattr(current, name) for name in PromotionTerms.model_fields}
    validate_document(PromotionTerms, {**terms, **_pick(changes, PromotionTerms)})
    target_ids = changes.pop("target_ids", None)
    if target_ids is not None:
        await _check_targets(session, promotion.scope, target_ids)
        await _set_targets(session, promotion.id, target_ids)
    max_uses = changes.get("max_uses", promotion.max_uses)
    if max_uses is not None and max_uses < promotion.uses_count:
        raise BadRequest(f"max_uses cannot go below the {promotion.uses_count} uses already made")
    for key, value in changes.items():
        setattr(promotion, key, value)
    await session.flush()
    return await _read(session, promotion)


def _pick(changes: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    return {k: v for k, v in changes.items() if k in model.model_fields}


async def deactivate_promotion(session: AsyncSession, promotion_id: str) -> None:
    promotion = await _load(session, promotion_id)
    promotion.is_active = False
    await session.flush()


async def get_promotion(session: AsyncSession, promotion_id: str) -> PromotionRead:
    return await _read(session, await _load(session, promotion_id))


async def list_promotions(
    session: AsyncSession, *, active: bool | None, cursor: str | None, limit: int
) -> Page[PromotionRead]:
    """Newest first, by id (ids are time-ordered)."""
    query = select(Promotion).order_by(Promotion.id.desc()).limit(limit + 1)
    if cursor:
        query = query.where(Promotion.id < id_after(cursor, "promotions"))
    if active is not None:
        query = query.where(Promotion.is_active.is_(active))
    rows = (await session.scalars(query)).all()
    page, next_cursor = cut_page(rows, limit, lambda p: id_cursor("promotions", p.id))
    return Page[PromotionRead](
        items=[await _read(session, p) for p in page], next_cursor=next_cursor
    )


async def price_lines(session: AsyncSession, items: Sequence[BasketLine]) -> list[PricedLine]:
    """Price basket lines from the catalog; an unknown or inactive item is a 400."""
    variant_ids = {i.variant_id for i in items}
    rows = (
        await session.execute(
            select(Variant.id, Variant.price, Variant.currency, Product.id, Category.path)
            .join(Product, Product.id == Variant.product_id)
            .join(Category, Category.id == Product.category_id)
            .where(
                Variant.id.in_(variant_ids),
                Variant.is_active.is_(True),
                Product.is_active.is_(True),
            )
        )
    ).all()
    by_variant = {r[0]: r for r in rows}
    shop_ids = {i.shop_id for i in items}
    shops = set(
        await session.scalars(
            select(Shop.id).where(Shop.id.in_(shop_ids), Shop.is_active.is_(True))
        )
    )
    lines = []
    for item in items:
        row = by_variant.get(item.variant_id)
        if row is None:
            raise UnknownBasketItem(f"No variant {item.variant_id} is for sale")
        if item.shop_id not in shops:
            raise UnknownBasketItem(f"No shop {item.shop_id} is open")
        _, price, currency, product_id, path = row
        lines.append(
            PricedLine(
                item.variant_id, product_id, path, item.shop_id, item.quantity, price, currency
            )
        )
    return lines


def _covers(promotion: Promotion, targets: set[str], line: PricedLine) -> bool:
    if promotion.scope == "all":
        return True
    if promotion.scope == "products":
        return line.product_id in targets
    if promotion.scope == "shops":
        return line.shop_id in targets
    return any(f"/{t}/" in line.category_path for t in targets)


def _eligibility(promotion: Promotion, now: datetime) -> Reason | None:
    if not promotion.is_active:
        return "inactive"
    if promotion.starts_at and now < _aware(promotion.starts_at):
        return "not_started"
    if promotion.ends_at and now >= _aware(promotion.ends_at):
        return "expired"
    if promotion.max_uses is not None and promotion.uses_count >= promotion.max_uses:
        return "exhausted"
    return None


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


async def evaluate(
    session: AsyncSession,
    promotion: Promotion,
    lines: Sequence[PricedLine],
    *,
    user_id: str | None,
    now: datetime | None = None,
) -> Evaluation:
    """What `promotion` takes off the basket `lines` for `user_id`, or why it does not apply."""
    subtotal = sum(line.amount for line in lines)
    currency = lines[0].currency if lines else promotion.currency

    def refuse(reason: Reason) -> Evaluation:
        return Evaluation(False, reason, subtotal, 0, 0, currency)

    reason = _eligibility(promotion, now or utcnow())
    if reason:
        return refuse(reason)
    if any(line.currency != promotion.currency for line in lines):
        return refuse("currency_mismatch")
    if promotion.max_uses_per_customer is not None and user_id is not None:
        used = await customer_uses(session, promotion.id, user_id)
        if used >= promotion.max_uses_per_customer:
            return refuse("customer_limit_reached")
    if promotion.min_order_amount is not None and subtotal < promotion.min_order_amount:
        return refuse("minimum_not_reached")
    targets = set(
        await session.scalars(
            select(PromotionTarget.target_id).where(PromotionTarget.promotion_id == promotion.id)
        )
    )
    eligible = sum(line.amount for line in lines if _covers(promotion, targets, line))
    if eligible == 0:
        return refuse("not_applicable")
    if promotion.kind == "percentage":
        discount = eligible * promotion.value // 100
    else:
        discount = min(promotion.value, eligible)
    return Evaluation(True, None, subtotal, eligible, discount, currency)


async def find_by_code(session: AsyncSession, code: str) -> Promotion | None:
    return await session.scalar(select(Promotion).where(Promotion.code == normalize_code(code)))


async def check_code(
    session: AsyncSession,
    *,
    user_id: str,
    code: str,
    items: Sequence[BasketLine],
    detailed: bool = False,
) -> PromotionCheckResult:
    """`POST /promotions/validate`: whether `code` applies to the basket, and by how much.

    Unknown, retired and future codes answer alike unless `detailed` (staff; see `disclosed`).
    """
    lines = await price_lines(session, items)
    promotion = await find_by_code(session, code)
    if promotion is None:
        subtotal = sum(line.amount for line in lines)
        result = Evaluation(False, "unknown_code", subtotal, 0, 0, lines[0].currency)
    else:
        result = await evaluate(session, promotion, lines, user_id=user_id)
    reason = disclosed(result.reason, detailed=detailed)
    return PromotionCheckResult(
        code=normalize_code(code),
        valid=result.valid,
        reason=reason,
        message=MESSAGES[reason],
        subtotal=result.subtotal,
        eligible_subtotal=result.eligible_subtotal,
        discount=result.discount,
        currency=result.currency,
    )


async def covered_lines(
    session: AsyncSession, promotion: Promotion, lines: Sequence[PricedLine]
) -> list[bool]:
    """Whether each line is in the promotion's scope (the lines its discount is shared over)."""
    targets = set(
        await session.scalars(
            select(PromotionTarget.target_id).where(PromotionTarget.promotion_id == promotion.id)
        )
    )
    return [_covers(promotion, targets, line) for line in lines]
