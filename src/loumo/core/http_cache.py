"""Conditional GETs for clients on slow, metered links: ETag, Cache-Control and 304.

A router that serves a cacheable read returns `cached_json(request, body, ...)` instead of the
model: the body is serialised once, its hash becomes the `ETag`, and a request whose
`If-None-Match` matches gets `304 Not Modified` with no body (RFC 9110 §13.1.2: weak
comparison, lists of tags, `*`).

    @router.get("/products/{id}")
    async def get_product(id: str, request: Request, session: SessionDep) -> Response:
        product = await service.get(session, id)
        return cached_json(request, ProductRead.model_validate(product), max_age=60)

JSON responses carry weak tags by default (`W/"…"`): the compression middleware may re-encode
the body, so the representation is only semantically, not byte-for-byte, the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import orjson
from fastapi import Depends
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from loumo.core.auth import OptionalPrincipal
from loumo.core.db import commit_count

_ENTITY_TAG = re.compile(r'\s*(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"\s*')


def make_etag(body: bytes, *, weak: bool = True) -> str:
    """An entity tag from the hash of `body` (a 128-bit prefix of its sha256)."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    return f'W/"{digest}"' if weak else f'"{digest}"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def parse_if_none_match(header: str) -> list[str] | None:
    """The entity tags of an `If-None-Match` value, `["*"]` for the wildcard, or None if malformed.

    Tags are parsed, not split on commas, because a comma is a legal character inside a tag.
    """
    value = header.strip()
    if value == "*":
        return ["*"]
    tags: list[str] = []
    position = 0
    while position < len(value):
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            return None
        tags.append(match.group().strip())
        position = match.end()
        if position < len(value):
            if value[position] != ",":
                return None
            position += 1
            while position < len(value) and value[position] in " \t,":
                position += 1
    return tags


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` matches `etag` by weak comparison (so `W/"x"` matches `"x"`)."""
    if not if_none_match:
        return False
    tags = parse_if_none_match(if_none_match)
    if not tags:
        return False
    if tags == ["*"]:
        return True
    wanted = _opaque(etag)
    return any(_opaque(tag) == wanted for tag in tags)


def cache_control(
    *,
    max_age: int = 0,
    public: bool = True,
    must_revalidate: bool = False,
    stale_while_revalidate: int | None = None,
    immutable: bool = False,
) -> str:
    """A `Cache-Control` value; `max_age=0` with an ETag means "revalidate every time"."""
    parts = ["public" if public else "private", f"max-age={max(0, max_age)}"]
    if must_revalidate:
        parts.append("must-revalidate")
    if stale_while_revalidate:
        parts.append(f"stale-while-revalidate={stale_while_revalidate}")
    if immutable:
        parts.append("immutable")
    return ", ".join(parts)


def not_modified(etag: str, headers: Mapping[str, str] | None = None) -> Response:
    """A 304 with no body, repeating the validators and caching headers a 200 would carry."""
    return Response(status_code=304, headers={**(headers or {}), "ETag": etag})


def conditional_response(
    request: Request,
    body: bytes,
    *,
    media_type: str,
    cache: str,
    weak: bool = True,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    """`body` with an `ETag` and `Cache-Control`, or a 304 when the client already holds it.

    `etag` is `make_etag(body, weak=weak)` when the caller computed it already."""
    etag = etag or make_etag(body, weak=weak)
    response_headers = {**(headers or {}), "Cache-Control": cache}
    if request.method in {"GET", "HEAD"} and etag_matches(
        request.headers.get("if-none-match"), etag
    ):
        return not_modified(etag, response_headers)
    response_headers["ETag"] = etag
    return Response(
        content=body, status_code=status_code, media_type=media_type, headers=response_headers
    )


def serialize_json(content: Any) -> bytes:
    """JSON bytes of a Pydantic model or any value FastAPI could return."""
    if isinstance(content, BaseModel):
        return content.model_dump_json().encode()
    return orjson.dumps(jsonable_encoder(content))


def cached_json(
    request: Request,
    content: Any,
    *,
    max_age: int = 0,
    public: bool = True,
    stale_while_revalidate: int | None = None,
    weak: bool = True,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Serialise `content` to JSON and answer it with an ETag, or 304 if unchanged.

    Use `public=False` for anything that depends on who is asking, so that shared caches
    (proxies, CDNs) never hand one user's answer to another.
    """
    return conditional_response(
        request,
        serialize_json(content),
        media_type="application/json",
        cache=cache_control(
            max_age=max_age, public=public, stale_while_revalidate=stale_while_revalidate
        ),
        weak=weak,
        status_code=status_code,
        headers=headers,
    )


PUBLIC_READ_MAX_AGE = 60


def cached_read(
    request: Request,
    content: Any,
    *,
    personal: bool,
    max_age: int = PUBLIC_READ_MAX_AGE,
) -> Response:
    """A cacheable read of public data (catalog, shops, zones), with an ETag.

    Anonymous answers are `public` for `max_age` seconds, so proxies and CDNs share them;
    `personal` answers (the caller is signed in, and staff may see more) are `private` and
    revalidated every time. `Vary: Authorization` keeps shared caches from mixing the two.
    `content` may be JSON bytes already (hot paths serialise with orjson themselves).
    """
    body = content if isinstance(content, bytes) else serialize_json(content)
    return _read_response(request, body, make_etag(body), personal=personal, max_age=max_age)


def _read_response(
    request: Request, body: bytes, etag: str, *, personal: bool, max_age: int
) -> Response:
    return conditional_response(
        request,
        body,
        media_type="application/json",
        cache=cache_control(max_age=0 if personal else max_age, public=not personal),
        headers={"Vary": "Authorization"},
        etag=etag,
    )


class RecentReads:
    """Anonymous answers of hot public reads, kept by this process for `seconds`.

    A copy holds the body, its ETag and the process's commit count when the read began
    (`loumo.core.db.commit_count`): any commit in this process since then makes it stale at
    once, so a writer always reads its own writes; another process's writes show within
    `seconds`. At most `entries` copies are kept (the oldest goes first). Staff and signed-in
    callers are never served from here.
    """

    def __init__(self, seconds: float, entries: int) -> None:
        self.seconds = seconds
        self.entries = entries
        self.clock = time.monotonic
        self._copies: dict[str, tuple[float, int, bytes, str]] = {}
        # The route that answered each URL (for `RecentReadsMiddleware`'s metrics and logs).
        self.routes: dict[str, Any] = {}
        # URLs being read afresh, each with a future done when that read ends.
        self.loading: dict[str, asyncio.Future[None]] = {}

    def get(self, key: str) -> tuple[bytes, str] | None:
        copy = self._copies.get(key)
        if copy is None:
            return None
        expires, commits, body, etag = copy
        if commits != commit_count() or self.clock() > expires:
            del self._copies[key]
            self.routes.pop(key, None)
            return None
        return body, etag

    def put(self, key: str, commits: int, body: bytes, etag: str) -> None:
        if len(self._copies) >= self.entries and key not in self._copies:
            oldest = next(iter(self._copies))
            del self._copies[oldest]
            self.routes.pop(oldest, None)
        self._copies[key] = (self.clock() + self.seconds, commits, body, etag)

    def clear(self) -> None:
        self._copies.clear()
        self.routes.clear()


class RecentReadsMiddleware:
    """Answers an anonymous GET (no `Authorization` header) from the app's `RecentReads`
    before routing, when a hot read (`CachedReader.reuse`) answered the same URL a moment ago
    and nothing was committed since: the same body, ETag, caching headers and 304 as the
    route's, without routing and dependencies, which cost more than the copy. Innermost, so
    request ids, access logs, metrics (labelled with the route's template), compression and
    the input guard apply as to any answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            recent: RecentReads | None = getattr(scope["app"].state, "recent_reads", None)
            if recent is not None and recent.routes:
                key = scope["path"] + "?" + scope["query_string"].decode("latin-1")
                copy = recent.get(key)
                if copy is not None and not any(
                    name == b"authorization" for name, _ in scope["headers"]
                ):
                    scope["route"] = recent.routes.get(key)
                    response = _read_response(
                        Request(scope), *copy, personal=False, max_age=PUBLIC_READ_MAX_AGE
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def recent_reads(request: Request) -> RecentReads | None:
    """The app's `RecentReads`, made on first use from its settings; None when turned off
    (`PUBLIC_READ_CACHE_SECONDS=0`)."""
    recent: RecentReads | None = getattr(request.app.state, "recent_reads", None)
    if recent is None:
        settings = request.app.state.settings
        if settings.public_read_cache_seconds <= 0:
            return None
        recent = RecentReads(settings.public_read_cache_seconds, settings.public_read_cache_entries)
        request.app.state.recent_reads = recent
    return recent


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag is still current"}
}


def cacheable(response_model: Any) -> dict[str, Any]:
    """Route keyword arguments of a read answered through `CachedRead`: the model it documents
    (the route returns a `Response`) and its 304 answer."""
    return {"response_model": response_model, "responses": NOT_MODIFIED}


class CachedReader:
    """Answers a read with `cached_read`, personal when the caller is signed in.

    A hot public read hands its work to `reuse()` instead: an anonymous caller gets the copy
    this process answered the same URL with a moment ago if nothing was committed since (see
    `RecentReads`), and while one request reads a URL afresh, the others asking for it wait for
    its answer rather than all running the same queries at once."""

    __slots__ = ("personal", "request")

    def __init__(self, request: Request, personal: bool) -> None:
        self.request = request
        self.personal = personal

    def __call__(self, content: Any) -> Response:
        return cached_read(self.request, content, personal=self.personal)

    async def reuse(self, read: Callable[[], Awaitable[bytes]]) -> Response:
        """`read()`'s JSON answer, or a recent copy of it (anonymous callers only)."""
        recent = None if self.personal else recent_reads(self.request)
        if recent is None:
            return self(await read())
        scope = self.request.scope
        key = scope["path"] + "?" + scope["query_string"].decode("latin-1")
        copy = recent.get(key)
        loading = recent.loading.get(key)
        if copy is None and loading is not None:
            await asyncio.shield(loading)  # another request is reading it: its answer will do
            copy = recent.get(key)
        if copy is not None:
            return _read_response(self.request, *copy, personal=False, max_age=PUBLIC_READ_MAX_AGE)
        if loading is not None:
            return self(await read())  # that read failed (a 404, say): no copy, no queue
        # Counted before the read runs: a commit during it makes this copy stale.
        commits = commit_count()
        recent.loading[key] = loaded = asyncio.get_running_loop().create_future()
        try:
            body = await read()
        finally:
            del recent.loading[key]
            loaded.set_result(None)
        etag = make_etag(body)
        recent.put(key, commits, body, etag)
        recent.routes[key] = scope.get("route")
        return _read_response(self.request, body, etag, personal=False, max_age=PUBLIC_READ_MAX_AGE)


async def _cached_reader(request: Request, principal: OptionalPrincipal) -> CachedReader:
    # async: FastAPI runs a plain function dependency in a worker thread, a costly hop.
    return CachedReader(request, personal=principal is not None)


CachedRead = Annotated[CachedReader, Depends(_cached_reader)]
"""The dependency of a cacheable public read: `return cached(await service.list_x(...))`."""
