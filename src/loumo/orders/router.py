"""HTTP routes of checkout and orders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import JSONResponse

from loumo.audit.deps import RequestMetaDep
from loumo.content import settings as business
from loumo.core.auth import CurrentPrincipal, Principal, require
from loumo.core.crud import CrudRoutes
from loumo.core.db import SessionDep, autocommit
from loumo.core.idempotency import IdempotencyKeyHeader, idempotent
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.settings import app_settings
from loumo.orders import WRITE, checkout, closing, moves, reading
from loumo.orders import quote as quoting
from loumo.orders.schemas import (
    CheckoutQuoteRequest,
    FulfilmentTransition,
    LineShort,
    OrderCancel,
    OrderCreate,
    OrderQuery,
    OrderRead,
    OrderSummary,
    OrderTransition,
    QuoteRead,
)
from loumo.orders.states import FulfilmentStatus

router = APIRouter(tags=["orders"])
OrderId = Annotated[str, Path(min_length=1, max_length=32, description="An order id")]
FulfilmentId = Annotated[str, Path(min_length=1, max_length=32, description="A fulfilment id")]
ItemId = Annotated[str, Path(min_length=1, max_length=32, description="An order item id")]
OrderWriter = Annotated[Principal, Depends(require(WRITE))]

NOT_YOURS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown order, or one the caller may not see"}
}
# What the routes of a shop's actions on its fulfilment declare (besides path and summary).
SHOP_ACTION: dict[str, Any] = {
    "response_model": OrderRead,
    "description": "Allowed to the managers of the fulfilment's shop and to staff holding "
    "`orders:write`; an order or fulfilment the caller cannot see answers 404.",
    "responses": NOT_YOURS,
    **policy("owner"),
}


@router.post(
    "/checkout/quote",
    response_model=QuoteRead,
    summary="Price a basket (server-side prices, discount, delivery fees, availability)",
    **policy("authenticated"),
)
async def quote(
    body: CheckoutQuoteRequest, session: SessionDep, principal: CurrentPrincipal
) -> QuoteRead:
    return (await quoting.quote(session, principal, body)).read


@router.post(
    "/orders",
    response_model=OrderRead,
    status_code=status.HTTP_201_CREATED,
    summary="Place an order (requires an Idempotency-Key header)",
    responses={
        400: {"description": "No Idempotency-Key, unknown address or one outside every zone"},
        409: {
            "description": "insufficient_stock, price_changed, promotion_unavailable, "
            "stock_hold_lost (the checkout outlived STOCK_HOLD_SECONDS: place it again), or the "
            "same key still running"
        },
        422: {"description": "Invalid body, or the key reused with another body"},
    },
    **policy("authenticated"),
)
async def create_order(
    body: OrderCreate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    settings = app_settings(request)

    async def place(unit: checkout.Placing) -> JSONResponse:
        written: list[checkout.Placed] = []

        async def work() -> tuple[int, Any]:
            await autocommit(session)  # reads until the stock is held (see checkout._hold)
            timeout = await business.value(session, business.ORDER_PAYMENT_TIMEOUT, settings)
            written.append(
                await checkout.write_order(unit, principal, body, payment_timeout=timeout)
            )
            return 201, written[0].read.model_dump(mode="json")

        async def claim() -> None:  # the promotion's row, after the order and its answer
            await checkout.claim(session, written[0])

        return await idempotent(
            request,
            session,
            principal_id=principal.user_id,
            key=key,
            body=body.model_dump(mode="json"),
            work=work,
            then=claim,
            together=True,  # the order's writes and its answer: one statement (PostgreSQL)
        )

    return await checkout.placed(session, place)


@router.get(
    "/orders",
    response_model=Page[OrderSummary],
    summary="Orders the caller may see, newest first (own; their shops'; all for staff)",
    **policy("authenticated"),
)
async def list_orders(
    session: SessionDep,
    principal: CurrentPrincipal,
    query: Annotated[OrderQuery, Query()],
) -> Page[OrderSummary]:
    return await reading.list_orders(session, principal, query)


order_routes = CrudRoutes(router, "/orders/{order_id}", OrderRead, id=OrderId, policy="owner")
order_routes.get(
    reading.get_order,
    summary="An order: items, amounts, statuses, fulfilments and timeline",
    responses=NOT_YOURS,
)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderRead,
    summary="Cancel an order (the buyer before preparing; staff before it leaves)",
    responses=NOT_YOURS,
    **policy("owner"),
)
async def cancel_order(
    order_id: OrderId,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
    body: OrderCancel | None = None,
) -> OrderRead:
    reason = body.reason if body else ""
    return await closing.cancel_order(session, principal, order_id, reason=reason, meta=meta)


@router.post(
    "/orders/{order_id}/transitions",
    response_model=OrderRead,
    summary="Move an order along its state machine (staff)",
    responses={409: {"description": "illegal_transition, naming both states"}},
    **policy("permission:orders:write"),
)
async def transition_order(
    order_id: OrderId,
    body: OrderTransition,
    request: Request,
    session: SessionDep,
    principal: OrderWriter,
    meta: RequestMetaDep,
) -> OrderRead:
    settings = app_settings(request)
    return await moves.transition_order(
        session,
        principal,
        order_id,
        body.to,
        reason=body.reason,
        meta=meta,
        fidelity_rate=await business.value(session, business.FIDELITY_RATE, settings),
    )


@router.post(
    "/orders/{order_id}/fulfilments/{fulfilment_id}/accept",
    summary="A shop accepts its part of a cash order",
    **SHOP_ACTION,
)
async def accept_fulfilment(
    order_id: OrderId,
    fulfilment_id: FulfilmentId,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
) -> OrderRead:
    return await moves.accept_fulfilment(session, principal, order_id, fulfilment_id, meta=meta)


@router.post(
    "/orders/{order_id}/fulfilments/{fulfilment_id}/transitions",
    summary="A shop starts preparing its part, or marks it ready",
    **SHOP_ACTION,
)
async def move_fulfilment(
    order_id: OrderId,
    fulfilment_id: FulfilmentId,
    body: FulfilmentTransition,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
) -> OrderRead:
    return await moves.move_fulfilment(
        session,
        principal,
        order_id,
        fulfilment_id,
        FulfilmentStatus(body.to),
        reason=body.reason,
        meta=meta,
    )


@router.post(
    "/orders/{order_id}/items/{item_id}/short",
    summary="A shop lacks some units of a line (refunded, or off a cash total)",
    **SHOP_ACTION,
)
async def mark_line_short(
    order_id: OrderId,
    item_id: ItemId,
    body: LineShort,
    session: SessionDep,
    principal: CurrentPrincipal,
    meta: RequestMetaDep,
) -> OrderRead:
    return await moves.mark_line_short(
        session, principal, order_id, item_id, body.quantity, reason=body.reason, meta=meta
    )
