"""The request's own input, checked before any route runs (pure ASGI).

- A NUL character in the path, a query parameter or a header value is a 422 problem document
  (PostgreSQL cannot store it in text, and no id, code or search term holds one). JSON bodies
  are the schema kit's (`loumo.core.schemas.Input`), where each field is named.
- The whole request body is read before the app sees the request, within `body_timeout`
  seconds (408 past it), so that no route ever waits on a slow client while it holds a pooled
  database connection or a principal. The size limit is `BodyLimitMiddleware`'s, which wraps
  this one: its 413 interrupts the read here.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loumo.core.errors import problem_response

NUL = "\x00"
NUL_MESSAGE = "NUL characters are not allowed"


def _nul_in_query(query_string: bytes) -> str | None:
    """The name of the first query parameter whose name or value holds a NUL, if any."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    text = query_string.decode("latin-1")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        if NUL in name or NUL in value:
            return name.replace(NUL, "")
    return ""


def _nul_in_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if b"\x00" in value:
            return name.decode("latin-1")
    return None


def nul_problem(scope: Scope) -> tuple[str, str] | None:
    """(location, field) of the first NUL the request line or headers carry, if any."""
    raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode()
    if NUL in scope.get("path", "") or b"\x00" in unquote_to_bytes(raw_path):
        return "path", ""
    query = _nul_in_query(scope.get("query_string", b""))
    if query is not None:
        return "query", query
    header = _nul_in_headers(scope.get("headers", []))
    if header is not None:
        return "header", header
    return None


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class Guard:
    """Refuses NUL characters outside the body, and reads the whole body within a time limit
    before the app runs (see the module's docstring)."""

    def __init__(self, app: ASGIApp, body_timeout: float = 60.0) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = nul_problem(scope)
        if found is not None:
            location, field = found
            await _respond(
                scope,
                receive,
                send,
                status=422,
                code="validation_error",
                title="Invalid request",
                detail=f"The request has a NUL character in its {location}",
                errors=[
                    {
                        "field": field,
                        "location": location,
                        "message": NUL_MESSAGE,
                        "type": "null_character",
                    }
                ],
            )
            return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        await _respond(  # dropped by the server; the access log tells why
                            scope,
                            receive,
                            send,
                            status=400,
                            code="incomplete_body",
                            title="Incomplete body",
                            detail="The client left before sending the whole body",
                        )
                        return
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _respond(
                scope,
                receive,
                send,
                status=408,
                code="request_timeout",
                title="Request timeout",
                detail=f"The request body did not arrive within {self.body_timeout:g} seconds",
                headers={"Connection": "close"},
            )
            return
        body = b"".join(chunks)
        del chunks
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _respond(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    headers: dict[str, str] | None = None,
    **problem: Any,
) -> None:
    response = problem_response(Request(scope), headers=headers, **problem)
    await response(scope, receive, send)
