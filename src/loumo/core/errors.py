"""One error hierarchy, rendered as RFC 9457 problem documents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
logger = structlog.get_logger("loumo.errors")


class AppError(Exception):
    """Base of every error a service may raise; carries an HTTP status and a stable code.

    `keep_changes` (a class default, or per raise) asks the request's unit of work to commit
    what the service flushed before answering the error: a failure that must leave a trace,
    such as a wrong code's attempt count. Otherwise an error rolls everything back.
    """

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    keep_changes: bool = False

    def __init__(
        self, detail: str | None = None, *, keep_changes: bool | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra
        self.headers: dict[str, str] = {}
        if keep_changes is not None:
            self.keep_changes = keep_changes


class BadRequest(AppError):
    pass


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"


class PermissionDenied(AppError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class RateLimited(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or "Too many requests; try again later")
        self.headers["Retry-After"] = str(max(1, retry_after))


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class Unavailable(ServiceUnavailable):
    """A dependency (the database, the object store...) does not answer: a 503 with its own
    code and a `Retry-After`, whatever the driver said (that goes to the log, never out)."""

    retry_after: ClassVar[int] = 5

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(self.retry_after)


class DatabaseUnavailable(Unavailable):
    code, title = "database_unavailable", "Database unavailable"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "The database is unavailable; try again shortly")


class InvalidPayload(AppError):
    """A document that fails its schema's rules, found after parsing (e.g. a stored object
    merged with a PATCH): the same 422 as a request body that fails its schema."""

    status, code, title = 422, "validation_error", "Invalid request"

    def __init__(self, errors: list[dict[str, Any]], detail: str | None = None) -> None:
        super().__init__(detail or "The request has invalid fields", errors=errors)


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"about:blank#{code}" if code else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": request_id_of(request),
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


# The code and title of an HTTP error raised outside the services (routing, Starlette): the
# class's where one has that status.
_HTTP_CODES = {
    **{
        error.status: (error.code, error.title)
        for error in (
            BadRequest,
            Unauthorized,
            PermissionDenied,
            NotFound,
            PayloadTooLarge,
            UnsupportedMediaType,
            RateLimited,
        )
    },
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
}


def app_error_response(request: Request, exc: AppError) -> JSONResponse:
    """The problem document of an application error."""
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers or None,
        **exc.extra,
    )


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return app_error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route matches {request.method} {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title=title,
        detail=detail,
        headers=dict(exc.headers) if exc.headers else None,
    )


def field_errors(raw: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic errors (`loc` starting with the location) as the problem's field errors."""
    errors = []
    for err in raw:
        loc = [str(p) for p in err.get("loc", ())]
        errors.append(
            {
                "field": ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc),
                "location": loc[0] if loc else "body",
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return errors


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return problem_response(
            request,
            status=400,
            code="malformed_json",
            title="Malformed JSON",
            detail="The request body is not valid JSON",
        )
    return app_error_response(request, InvalidPayload(field_errors(exc.errors())))


# How long a client is asked to wait when every pooled database connection is taken.
POOL_RETRY_AFTER_SECONDS = 2


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    """No pooled connection came free in time: the server is busy, not broken (503)."""
    logger.warning("db_pool_exhausted", path=request.url.path, error=str(exc).split("\n")[0])
    return problem_response(
        request,
        status=503,
        code="busy",
        title="Service busy",
        detail="The server is busy; try again shortly",
        headers={"Retry-After": str(POOL_RETRY_AFTER_SECONDS)},
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    """The database refused a value (SQLSTATE class 22: out of range, too long, bad encoding).

    Input is checked before it gets there (`core.request_guard`, `core.schemas.Input`); this is
    the net for a value that slipped through, logged so that the gap gets closed.
    """
    assert isinstance(exc, sa_exc.DataError)
    logger.warning("db_data_error", path=request.url.path, error=type(exc.orig).__name__)
    return problem_response(
        request,
        status=400,
        code="invalid_value",
        title="Invalid value",
        detail="A value of the request cannot be stored",
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A connection that broke under a statement (the server stopped, restarted, or the network
    dropped): SQLAlchemy has invalidated it and the pool, and the next request connects afresh,
    so this one is a 503 to retry. Any other driver error is a bug: the last-resort 500."""
    assert isinstance(exc, sa_exc.DBAPIError)
    if not exc.connection_invalidated:
        raise exc
    logger.warning("db_connection_lost", path=request.url.path, error=type(exc.orig).__name__)
    return app_error_response(request, DatabaseUnavailable())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _pool_exhausted)
    app.add_exception_handler(sa_exc.DataError, _data_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
