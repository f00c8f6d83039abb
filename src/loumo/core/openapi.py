"""The OpenAPI document, truthful about errors.

Every error answer of the API is a problem document (`core.schemas.Problem`, served as
`application/problem+json`), so every operation documents its 4xx answers with that one schema,
in place of FastAPI's default `HTTPValidationError` (`{"detail": [...]}`, which the API never
sends). Beyond the answers a route declares itself (`responses=`, with a description), each
operation gets the ones that follow from what it is:

- 400 `malformed_json` for a JSON body, `invalid_cursor` for a `cursor` parameter;
- 401 for a route that reads a bearer token (a bad token is refused even on public routes);
- 403 for a route behind a permission (`permission:…` policy; an owner route that answers 403
  for another owner's object declares it, most answer 404);
- 404 for a route with a path parameter;
- 422 for a route with parameters or a body;
- 429 for a route that uses the app's rate limiter (`core.ratelimit.RateLimiterDep`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from loumo.core.errors import PROBLEM_JSON
from loumo.core.policy import POLICY_KEY
from loumo.core.ratelimit import app_rate_limiter
from loumo.core.schemas import Problem

PROBLEM_REF = "#/components/schemas/Problem"
FASTAPI_DEFAULTS = ("HTTPValidationError", "ValidationError")
DEFAULT_DESCRIPTIONS = {
    400: "Malformed request (e.g. invalid JSON or cursor)",
    401: "Missing, invalid or expired access token",
    403: "The caller may not do this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "The request fails its schema; `errors` lists the fields",
    429: "Too many requests; see `Retry-After`",
}


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            found.add(dependency.call)
        found |= _calls(dependency)
    return found


def _rate_limited_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every operation whose route uses the app's rate limiter."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and app_rate_limiter in _calls(route.dependant):
            found |= {(str(context.path), method.lower()) for method in route.methods or ()}
    return found


def expected_errors(path: str, operation: dict[str, Any], rate_limited: bool) -> set[int]:
    """The 4xx statuses an operation can answer, from what the document says about it."""
    statuses = {int(s) for s in operation.get("responses", {}) if str(s).startswith("4")}
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body or any(p.get("name") == "cursor" for p in parameters):
        statuses.add(400)
    if operation.get("security"):
        statuses.add(401)
    if str(operation.get(POLICY_KEY, "")).startswith("permission:"):
        statuses.add(403)
    if "{" in path:
        statuses.add(404)
    if parameters or body:
        statuses.add(422)
    if rate_limited:
        statuses.add(429)
    return statuses


def problem_answers(schema: dict[str, Any], rate_limited: set[tuple[str, str]]) -> None:
    """Rewrite every operation's 4xx answers of `schema` as problem documents."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(expected_errors(path, operation, (path, method) in rate_limited)):
                declared = responses.pop(str(status), responses.pop(status, {}))
                description = declared.get("description")
                if not description or description == "Validation Error":
                    description = DEFAULT_DESCRIPTIONS.get(status, "Client error")
                responses[str(status)] = {"description": description, "content": problem}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_DEFAULTS:
        components.pop(name, None)
    definitions = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(definitions.pop("$defs", {}))
    components["Problem"] = definitions


def install_openapi(app: FastAPI) -> None:
    """Serve FastAPI's document with problem answers (built once, on first request)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            problem_answers(build(), _rate_limited_operations(app))
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
