"""The app factory: settings, ports (`loumo.wiring`), database, middleware, errors, routers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette_compress import CompressMiddleware, add_compress_type
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from loumo import __version__, accounts, wiring
from loumo.accounts.router import router as accounts_router
from loumo.audit.router import router as audit_router
from loumo.catalog.router import router as catalog_router
from loumo.content.router import router as content_router
from loumo.core import health, metrics, request_guard
from loumo.core.db import Database
from loumo.core.errors import install_error_handlers
from loumo.core.http_cache import RecentReadsMiddleware
from loumo.core.logging import configure_logging
from loumo.core.middleware import (
    BodyLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from loumo.core.migrations import head_revisions, known_revisions
from loumo.core.openapi import install_openapi
from loumo.core.ratelimit import create_rate_limiter
from loumo.core.settings import Settings, get_settings, resolve_secret_key
from loumo.delivery.router import router as delivery_router
from loumo.jobs.runtime import JobSystem, check_broker
from loumo.media import router as media
from loumo.notifications.router import router as notifications_router
from loumo.orders.router import router as orders_router
from loumo.payments.router import router as payments_router
from loumo.payments.sandbox.router import router as pawapay_sandbox_router
from loumo.promotions.router import router as promotions_router
from loumo.shops.router import router as shops_router
from loumo.zones.router import router as zones_router

API_PREFIX = "/api/v1"
# Bodies smaller than this gain little from compression (headers and framing dominate).
COMPRESS_MIN_BYTES = 1024

# What a browser on an allowed origin may send and read (CORS_ALLOWED_ORIGINS); bearer tokens,
# never cookies, so no credentials.
CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept-Language",
    "Idempotency-Key",
    "If-None-Match",
    "X-Request-ID",
]
CORS_EXPOSED_HEADERS = ["ETag", "Location", "Retry-After", "X-Request-ID"]
CORS_MAX_AGE = 600

# Error bodies are JSON too; images are never in the list, so they pass through untouched.
add_compress_type("application/problem+json")


def build_api_router() -> APIRouter:
    """Every domain router, mounted under /api/v1."""
    api = APIRouter(prefix=API_PREFIX)
    # A request is matched against the routes in this order: the busiest first (the catalog's
    # reads, checkout and orders; no path of theirs overlaps another router's).
    api.include_router(catalog_router)
    api.include_router(orders_router)
    api.include_router(accounts_router)
    api.include_router(audit_router)
    api.include_router(zones_router)
    api.include_router(shops_router)
    api.include_router(promotions_router)
    api.include_router(media.router)
    api.include_router(notifications_router)
    api.include_router(payments_router)
    api.include_router(content_router)
    api.include_router(delivery_router)
    return api


def served_app() -> FastAPI:
    """The app as `loumo serve` runs it, in each of its processes (see `create_app`'s
    `freeze_gc`)."""
    return create_app(freeze_gc=True)


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> FastAPI:
    """The app. `freeze_gc`, for a long-lived server process only: once started, everything
    that lives as long as the process (modules, routes, schemas, pools) is moved out of the
    garbage collector's sight (`gc.freeze`), so that its full collections no longer walk them:
    they paused every request of the process for tens of milliseconds (checkout bench p99
    345-355 -> 270-295 ms). Frozen objects are never collected: not for an app made per test."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    secret_key = resolve_secret_key(settings)
    ports = wiring.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            command_timeout=settings.db_command_timeout,
        )
        app.state.db = db
        metrics.POOL_COLLECTOR.track("primary", db.engine)
        publishing: asyncio.Task[None] | None = None
        if metrics.MULTIPROCESS:  # `loumo serve --workers N`: one scrape sees every process
            metrics.forget_dead_processes()
            publishing = asyncio.create_task(metrics.publish_pools())
        jobs = JobSystem(settings, db, ports.job_modules)
        await jobs.start(run_jobs_here=settings.jobs_in_process)
        if freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await jobs.stop()
            if publishing is not None:
                publishing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await publishing
                metrics.forget_this_process()
            metrics.POOL_COLLECTOR.untrack("primary", db.engine)
            await db.dispose()

    docs = settings.api_docs_enabled
    app = FastAPI(
        title="Loumo API",
        version=__version__,
        summary="Multi-shop grocery and e-commerce delivery marketplace",
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.settings = settings
    app.state.secret_key = secret_key
    app.state.migration_heads = head_revisions()
    app.state.known_migrations = known_revisions()
    app.state.readiness_checks = {"database": health.check_database}
    if settings.broker_url:
        app.state.readiness_checks["broker"] = check_broker
    app.state.rate_limiter = create_rate_limiter(settings)
    if settings.redis_url:
        app.state.readiness_checks["rate_limits"] = health.check_rate_limiter
    # Reported, but not a reason to leave the proxy: routes without a limit still work.
    app.state.soft_checks = frozenset({"rate_limits"})
    accounts.install(app, ports.principal_enrichers)

    install_error_handlers(app)
    install_openapi(app)
    # Innermost: recent anonymous product reads answered before routing (core.http_cache).
    app.add_middleware(RecentReadsMiddleware)
    app.add_middleware(request_guard.Guard, body_timeout=settings.request_body_timeout)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
    )
    app.add_middleware(CompressMiddleware, minimum_size=COMPRESS_MIN_BYTES)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=CORS_MAX_AGE,
        )
    app.add_middleware(RequestContextMiddleware)
    # Outside the request context, so that its last-resort 500 carries the headers too.
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.hsts_enabled)
    # Outermost: every layer (access log, audit rows, rate limits by address) sees the client
    # a trusted proxy names, and only a trusted proxy (`loumo serve` leaves uvicorn's own off).
    if settings.trusted_proxy_list:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)

    app.include_router(health.router)
    app.include_router(build_api_router())
    app.include_router(media.files_router)
    if settings.sandbox_enabled:
        app.include_router(pawapay_sandbox_router)
    return app
