"""Payments over HTTP: pay an order, read payments, refund (staff), provider webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from loumo.audit.deps import RequestMetaDep
from loumo.core.auth import CurrentPrincipal, Principal, require
from loumo.core.db import SessionDep
from loumo.core.idempotency import OnceDep
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.settings import app_settings
from loumo.payments import attempts, reads, refunds, webhooks
from loumo.payments.permissions import REFUND_PERMISSION
from loumo.payments.providers.base import CallbackRequest
from loumo.payments.schemas import (
    PaymentCreate,
    PaymentRead,
    RefundCreate,
    RefundRead,
)

router = APIRouter(tags=["payments"])
RefundStaff = Depends(require(REFUND_PERMISSION))


@router.post(
    "/orders/{order_id}/payments",
    summary="Pay an order of yours (`Idempotency-Key` required)",
    description="The provider is asked right after.",
    status_code=201,
    response_model=PaymentRead,
    **policy("owner"),
)
async def create_payment(
    request: Request,
    order_id: str,
    data: PaymentCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    once: OnceDep,
) -> object:
    settings = app_settings(request)
    return await once(
        principal,
        data,
        produce=lambda: attempts.create_payment(session, principal, order_id, data, settings),
        answer=PaymentRead,
        status=201,
    )


@router.get(
    "/payments/{payment_id}",
    summary="A payment of yours (staff with `payments:read`: any)",
    response_model=PaymentRead,
    **policy("owner"),
)
async def get_payment(payment_id: str, principal: CurrentPrincipal, session: SessionDep) -> object:
    return await reads.get_payment(session, principal, payment_id)


@router.get(
    "/orders/{order_id}/payments",
    summary="The payments of an order of yours, newest first",
    response_model=Page[PaymentRead],
    **policy("owner"),
)
async def list_order_payments(
    order_id: str, principal: CurrentPrincipal, session: SessionDep
) -> Page[PaymentRead]:
    return await reads.list_order_payments(session, principal, order_id)


@router.post(
    "/payments/{payment_id}/refunds",
    summary="Refund a payment wholly (no `lines`) or by lines",
    description="Restocking the lines you choose.",
    status_code=201,
    response_model=RefundRead,
    **policy("permission:payments:refund"),
)
async def create_refund(
    payment_id: str,
    data: RefundCreate,
    session: SessionDep,
    meta: RequestMetaDep,
    once: OnceDep,
    principal: Principal = RefundStaff,
) -> object:
    return await once(
        principal,
        data,
        produce=lambda: refunds.create_refund(session, principal, payment_id, data, meta),
        answer=RefundRead,
        status=201,
    )


@router.get(
    "/payments/{payment_id}/refunds",
    summary="The refunds of a payment of yours (staff with `payments:read`: any)",
    response_model=Page[RefundRead],
    **policy("owner"),
)
async def list_refunds(
    payment_id: str, principal: CurrentPrincipal, session: SessionDep
) -> Page[RefundRead]:
    return await reads.list_refunds(session, principal, payment_id)


async def _webhook(
    request: Request, session: SessionDep, provider: str, kind: str
) -> dict[str, bool]:
    callback = CallbackRequest(
        kind=kind,
        method=request.method,
        url=str(request.url),
        headers=request.headers.items(),
        body=await request.body(),
    )
    new = await webhooks.receive_callback(session, app_settings(request), provider, callback)
    return {"received": True, "duplicate": not new}


@router.post(
    "/webhooks/pawapay/deposits",
    summary="pawaPay's deposit callback: verified, stored once, processed as a job",
    **policy("public"),
)
async def pawapay_deposit_callback(request: Request, session: SessionDep) -> dict[str, bool]:
    return await _webhook(request, session, "pawapay", "deposit")


@router.post(
    "/webhooks/pawapay/refunds",
    summary="pawaPay's refund callback: verified, stored once, processed as a job",
    **policy("public"),
)
async def pawapay_refund_callback(request: Request, session: SessionDep) -> dict[str, bool]:
    return await _webhook(request, session, "pawapay", "refund")


@router.post(
    "/webhooks/stripe",
    summary="Stripe's webhook: verified with the SDK, stored once, processed as a job",
    **policy("public"),
)
async def stripe_webhook(request: Request, session: SessionDep) -> dict[str, bool]:
    return await _webhook(request, session, "stripe", "stripe")
