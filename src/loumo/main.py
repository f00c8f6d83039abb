"""The app factory: settings, database, middleware, error handlers and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from loumo import __version__
from loumo.core import health
from loumo.core.db import Database
from loumo.core.errors import install_error_handlers
from loumo.core.logging import configure_logging
from loumo.core.metrics import POOL_COLLECTOR
from loumo.core.middleware import BodyLimitMiddleware, RequestContextMiddleware
from loumo.core.migrations import head_revisions
from loumo.core.settings import Settings, get_settings, resolve_secret_key

API_PREFIX = "/api/v1"


def build_api_router() -> APIRouter:
    """Every domain router, mounted under /api/v1."""
    from loumo.catalog.router import router as catalog_router
    from loumo.delivery.router import router as zones_router
    from loumo.shops.router import router as shops_router

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(zones_router)
    api.include_router(catalog_router)
    api.include_router(shops_router)
    return api


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    secret_key = resolve_secret_key(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        app.state.db = db
        POOL_COLLECTOR.track("primary", db.engine)
        try:
            yield
        finally:
            POOL_COLLECTOR.untrack("primary", db.engine)
            await db.dispose()

    app = FastAPI(
        title="Loumo API",
        version=__version__,
        summary="Multi-shop grocery and e-commerce delivery marketplace",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.secret_key = secret_key
    app.state.migration_heads = head_revisions()
    app.state.readiness_checks = {"database": health.check_database}

    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
    )
    app.add_middleware(RequestContextMiddleware)

    app.include_router(health.router)
    app.include_router(build_api_router())
    return app
