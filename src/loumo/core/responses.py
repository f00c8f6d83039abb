"""Route keyword arguments for answers without a body."""

from __future__ import annotations

from typing import Any

from fastapi import Response, status


def no_content() -> dict[str, Any]:
    """Route keyword arguments of a `204 No Content` answer; the route function returns None:
    `@router.delete("/x/{id}", summary=..., **no_content(), **policy(...))`."""
    return {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}
