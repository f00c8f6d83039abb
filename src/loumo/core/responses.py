"""Route keyword arguments for answers without a body, and the descriptions of error answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Response, status

Responses = dict[int | str, dict[str, Any]]
"""A route's `responses=`: what an answer of each status means, by status."""


def no_content() -> dict[str, Any]:
    """Route keyword arguments of a `204 No Content` answer; the route function returns None:
    `@router.delete("/x/{id}", summary=..., **no_content(), **policy(...))`."""
    return {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}


def described(descriptions: Mapping[int, str]) -> Responses:
    """`responses=` saying what each error status means on this route, e.g.
    `described({409: "The name is taken"})` (`loumo.core.openapi` adds the problem schema)."""
    return {code: {"description": text} for code, text in descriptions.items()}
