"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from loumo.core.db import Database
from loumo.core.errors import NotFound, Unauthorized
from loumo.core.metrics import exposition
from loumo.core.migrations import current_revisions
from loumo.core.policy import policy
from loumo.core.settings import Settings

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT = 3.0
logger = structlog.get_logger("loumo.health")

ReadinessCheck = Callable[[Request], Awaitable[None]]


class CheckFailed(RuntimeError):
    """A readiness check's own finding, safe to publish (no driver text, no addresses)."""


async def check_database(request: Request) -> None:
    db: Database = request.app.state.db
    await db.ping()
    heads: set[str] = request.app.state.migration_heads
    current = await current_revisions(db.engine)
    if current == heads:
        return
    known: set[str] = request.app.state.known_migrations
    if current - known:
        # A later release migrated the database ahead of this code: expand migrations keep the
        # old schema working (docs/operations.md, "Zero-downtime migrations"), so still ready.
        return
    logger.warning("readiness_migrations_behind", database=sorted(current), code=sorted(heads))
    raise CheckFailed("migrations not at head")


async def check_rate_limiter(request: Request) -> None:
    await request.app.state.rate_limiter.ping()


async def _run_check(name: str, check: ReadinessCheck, request: Request) -> str:
    """ "ok" or "error: <what>", where <what> never carries a driver's text (hosts, users,
    paths): that goes to the log, for operators."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await check(request)
    except TimeoutError:
        logger.warning("readiness_check_timeout", check=name, timeout=CHECK_TIMEOUT)
        return f"error: no answer within {CHECK_TIMEOUT:g}s"
    except CheckFailed as exc:
        return f"error: {exc}"
    except Exception as exc:
        logger.warning("readiness_check_failed", check=name, error=f"{type(exc).__name__}: {exc}")
        return "error: unavailable"
    return "ok"


@router.get("/healthz", summary="Liveness: the process is up", **policy("public"))
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: every dependency answers",
    description=(
        "503 when a dependency that every request needs is down (the database, the broker). "
        "A store that only some routes need (the rate limits' Redis) is reported with a 200 "
        'and `"status": "degraded"`: taking every process out of the proxy for it would stop '
        "the routes that still work."
    ),
    responses={503: {"description": "A dependency is down; the failing check is named"}},
    **policy("public"),
)
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    names = list(checks)
    results = await asyncio.gather(*(_run_check(n, checks[n], request) for n in names))
    report: dict[str, Any] = dict(zip(names, results, strict=True))
    failing = [n for n, r in report.items() if r != "ok"]
    soft: frozenset[str] = request.app.state.soft_checks
    if any(n not in soft for n in failing):
        return JSONResponse(
            {"status": "unavailable", "failing": failing, "checks": report}, status_code=503
        )
    if failing:
        return JSONResponse({"status": "degraded", "failing": failing, "checks": report})
    return JSONResponse({"status": "ok", "checks": report})


def _check_metrics_access(request: Request) -> None:
    """`METRICS_TOKEN` set: the bearer must match it (401). Unset: open outside production, not
    served in production (404), so a public port never shows the service's internals."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        if settings.is_production:
            raise NotFound("Not found")
        return
    expected = settings.metrics_token.get_secret_value().encode()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        error = Unauthorized("/metrics needs the bearer token METRICS_TOKEN")
        error.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        raise error


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description=(
        "With `METRICS_TOKEN` set, send `Authorization: Bearer <METRICS_TOKEN>`. Without it the "
        "metrics are open outside production and not served in production."
    ),
    response_class=Response,
    responses={
        401: {"description": "`METRICS_TOKEN` is set and the bearer does not match it"},
        404: {"description": "Production without `METRICS_TOKEN`: not served"},
    },
    **policy("public"),
)
async def metrics(request: Request) -> Response:
    _check_metrics_access(request)
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
