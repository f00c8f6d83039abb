"""The OpenAPI document tells the truth: every error answer is a problem document, request
bodies say which fields take `null`, and every operation follows one text convention."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from loumo.core.schemas import Problem

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}
MAX_SUMMARY = 80


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_error_answer_is_a_problem_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    problems = []
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        for status, response in responses.items():
            if status.startswith("4") and response.get("content") != PROBLEM:
                problems.append(f"{where} {status}: {response.get('content')}")
        errors = {s for s in responses if s.startswith("4")}
        takes_input = operation.get("parameters") or operation.get("requestBody")
        if takes_input and "422" not in errors:
            problems.append(f"{where}: takes input but documents no 422")
        if operation.get("security") and "401" not in errors:
            problems.append(f"{where}: reads a token but documents no 401")
        if "{" in path and "404" not in errors:
            problems.append(f"{where}: has a path parameter but documents no 404")
    assert problems == []
    assert "HTTPValidationError" not in json.dumps(spec)
    schemas = spec["components"]["schemas"]
    assert set(schemas["Problem"]["properties"]) >= {
        "type",
        "title",
        "status",
        "detail",
        "code",
        "request_id",
        "errors",
    }
    assert set(schemas["FieldError"]["properties"]) == {"field", "location", "message", "type"}
    assert schemas["Problem"]["properties"]["errors"]["type"] == "array"


async def test_rate_limited_and_permission_routes_say_so(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in [
        ("/api/v1/promotions/validate", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/media/images", "post"),
    ]:
        assert "429" in paths[path][method]["responses"], path
    assert "429" not in paths["/api/v1/auth/refresh"]["post"]["responses"]
    assert "403" in paths["/api/v1/zones"]["post"]["responses"]
    assert set(paths["/api/v1/zones"]["get"]["responses"]) == {"200", "304", "401"}


async def test_real_error_answers_match_the_documented_schema(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    answers = [
        await client.get("/api/v1/zones/nope"),
        await client.post("/api/v1/zones", json={"name": "X"}, headers=staff),
        await client.post("/api/v1/zones", json={"name": "X", "delivery_fee": 1}),
        await client.get("/api/v1/products", params={"cursor": "!!"}),
    ]
    assert [a.status_code for a in answers] == [404, 422, 401, 400]
    for answer in answers:
        assert answer.headers["content-type"] == "application/problem+json"
        Problem.model_validate(answer.json())


def _property(spec: dict[str, Any], model: str, field: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"][model]["properties"][field]
    return found


def _nullable(schema: dict[str, Any]) -> bool:
    return {"type": "null"} in schema.get("anyOf", []) or schema.get("type") == "null"


async def test_fields_are_nullable_only_where_null_is_meant(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    # A listed product always has an active variant, hence a price; a single one may not.
    assert not _nullable(_property(spec, "ProductListed", "price"))
    assert _nullable(_property(spec, "ProductRead", "price"))
    # PATCH bodies: only the fields that `null` clears are nullable.
    assert not _nullable(_property(spec, "ZoneUpdate", "name"))
    assert not _nullable(_property(spec, "PromotionUpdate", "is_active"))
    assert "default" not in _property(spec, "PromotionUpdate", "is_active")
    assert _nullable(_property(spec, "PromotionUpdate", "ends_at"))
    assert _nullable(_property(spec, "ShopUpdate", "phone"))
    assert _nullable(_property(spec, "CategoryUpdate", "parent_id"))


def test_operation_texts_follow_one_convention(app: FastAPI) -> None:
    """A short `summary=` on every route; longer text goes to `description=`, never to a
    docstring (FastAPI would publish it as the description)."""
    problems = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        where = f"{sorted(route.methods or ())} {context.path}"
        summary = route.summary or ""
        if not summary or len(summary) > MAX_SUMMARY or summary.endswith("."):
            problems.append(f"{where}: summary {summary!r}")
        if route.endpoint.__doc__:
            problems.append(f"{where}: docstring on the route function")
    assert problems == []


def test_operation_ids_are_unique(app: FastAPI) -> None:
    """FastAPI only warns (on the server's log) when two operations share an id; clients
    generated from the document would merge them."""
    ids = [
        operation["operationId"]
        for item in app.openapi()["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert len(ids) == len(set(ids))
