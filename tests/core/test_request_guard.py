"""The request guard reads the whole body, within a time limit, before the app runs."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

from loumo.core.request_guard import Guard


def _scope(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "raw_path": b"/upload",
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


async def _call(
    app: Guard, scope: Scope, chunks: list[bytes], *, complete: bool = True
) -> list[Message]:
    sent: list[Message] = []
    pending = list(chunks)

    async def receive() -> Message:
        if not pending:
            await asyncio.sleep(3600)  # a client that stopped sending
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending) or not complete}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_the_app_gets_the_whole_body_at_once() -> None:
    seen: list[Any] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = Guard(inner, body_timeout=5)
    scope = _scope([(b"content-length", b"9")])
    sent = await _call(guard, scope, [b"abc", b"def", b"ghi"])

    assert seen == [{"type": "http.request", "body": b"abcdefghi", "more_body": False}]
    assert sent[0]["status"] == 204


async def test_a_body_that_trickles_past_the_time_limit_is_a_408_and_the_app_never_runs() -> None:
    ran = False

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal ran
        ran = True

    guard = Guard(inner, body_timeout=0.3)
    scope = _scope([(b"content-length", b"100000")])
    sent = await _call(guard, scope, [b"--x"], complete=False)  # 3 bytes, then nothing

    assert not ran
    assert sent[0]["status"] == 408
    headers = dict(sent[0]["headers"])
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"connection"] == b"close"
    assert orjson.loads(sent[1]["body"])["code"] == "request_timeout"
