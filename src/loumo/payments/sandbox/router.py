"""`/_sandbox/pawapay/v2/...`: the emulated pawaPay endpoints (mounted only outside production).

Like pawaPay, it wants a bearer token (any one will do here) and answers pawaPay's shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from loumo.core.db import Database
from loumo.core.policy import policy
from loumo.core.settings import app_settings
from loumo.payments.sandbox import service
from loumo.payments.sandbox.service import Sessions

PREFIX = "/_sandbox/pawapay"


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {"failureReason": {"failureCode": "AUTHENTICATION_ERROR", "failureMessage": "No token"}},
        status_code=401,
    )


def _has_bearer(request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


class _BearerRoute(APIRoute):
    """A sandbox route: a call without a bearer token gets pawaPay's 401 before the route runs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            if not _has_bearer(request):
                return _unauthorized()
            return await handler(request)

        return checked


router = APIRouter(
    prefix=PREFIX, tags=["sandbox"], include_in_schema=False, route_class=_BearerRoute
)


def _sessions(request: Request) -> Sessions:
    db: Database = request.app.state.db
    return db.sessionmaker


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


@router.post("/v2/deposits", summary="Initiate a deposit (pawaPay v2)", **policy("public"))
async def initiate_deposit(request: Request) -> JSONResponse:
    try:
        body = await service.create_deposit(
            _sessions(request), app_settings(request), await _json_body(request)
        )
    except service.SandboxServerError:
        return JSONResponse({"error": "sandbox: simulated server error"}, status_code=500)
    return JSONResponse(body)


@router.get(
    "/v2/deposits/{deposit_id}", summary="Check a deposit's status (pawaPay v2)", **policy("public")
)
async def check_deposit(request: Request, deposit_id: str) -> JSONResponse:
    return JSONResponse(await service.get_deposit(_sessions(request), deposit_id))


@router.post("/v2/refunds", summary="Initiate a refund (pawaPay v2)", **policy("public"))
async def initiate_refund(request: Request) -> JSONResponse:
    body = await service.create_refund(
        _sessions(request), app_settings(request), await _json_body(request)
    )
    return JSONResponse(body)


@router.get(
    "/v2/refunds/{refund_id}", summary="Check a refund's status (pawaPay v2)", **policy("public")
)
async def check_refund(request: Request, refund_id: str) -> JSONResponse:
    return JSONResponse(await service.get_refund(_sessions(request), refund_id))


@router.post(
    "/v2/predict-provider",
    summary="Predict the provider of a phone number and normalise it (pawaPay v2)",
    **policy("public"),
)
async def predict_provider(request: Request) -> JSONResponse:
    body = service.predict_provider(await _json_body(request))
    if body is not None:
        return JSONResponse(body)
    reason = {
        "failureCode": "INVALID_PHONE_NUMBER",
        "failureMessage": "Not a mobile money number of a configured country",
    }
    return JSONResponse({"failureReason": reason}, status_code=400)


@router.get(
    "/v2/active-conf",
    summary="The configured countries, providers, limits and availability (pawaPay v2)",
    **policy("public"),
)
async def active_configuration() -> JSONResponse:
    return JSONResponse(service.active_conf())
