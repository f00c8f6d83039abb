"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from loumo.core.db import Database
from loumo.core.metrics import REGISTRY
from loumo.core.migrations import current_revisions
from loumo.core.policy import policy

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT = 3.0

ReadinessCheck = Callable[[Request], Awaitable[None]]


async def check_database(request: Request) -> None:
    db: Database = request.app.state.db
    await db.ping()
    heads: set[str] = request.app.state.migration_heads
    current = await current_revisions(db.engine)
    if current != heads:
        raise RuntimeError(
            f"migrations not at head (database {sorted(current)}, code {sorted(heads)})"
        )


async def check_rate_limiter(request: Request) -> None:
    await request.app.state.rate_limiter.ping()


async def _run_check(check: ReadinessCheck, request: Request) -> str:
    try:
        await asyncio.wait_for(check(request), CHECK_TIMEOUT)
    except TimeoutError:
        return f"error: no answer within {CHECK_TIMEOUT:g}s"
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:300]
    return "ok"


@router.get("/healthz", summary="Liveness: the process is up", **policy("public"))
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: every dependency answers",
    responses={503: {"description": "A dependency is down; the failing check is named"}},
    **policy("public"),
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    names = list(checks)
    results = await asyncio.gather(*(_run_check(checks[n], request) for n in names))
    report: dict[str, Any] = dict(zip(names, results, strict=True))
    failing = [n for n, r in report.items() if r != "ok"]
    if failing:
        return JSONResponse(
            {"status": "unavailable", "failing": failing, "checks": report}, status_code=503
        )
    return JSONResponse({"status": "ok", "checks": report})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response, **policy("public"))
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
