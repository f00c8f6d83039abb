"""The usual routes of a resource, declared in a line or two each: `CrudRoutes`.

Most domains let the holders of one permission create, change and delete their rows (zones,
promotions, FAQ topics, categories, shops...), and each of those routes only hands its path
ids and body to one service function and answers what it returns. On a router with the
prefix `/zones`,

    zone_routes = CrudRoutes(router, "/{zone_id}", ZoneRead, id=ZoneId, policy=ZONES_POLICY)
    zone_routes.create(service.create_zone, ZoneCreate, summary="Create a zone (staff)")
    zone_routes.update(service.update_zone, ZoneUpdate, summary="Change a zone (staff)")
    zone_routes.delete(service.delete_zone, summary="Delete a zone (staff)")

declares `POST /zones`, `PATCH /zones/{zone_id}` and `DELETE /zones/{zone_id}` exactly as
writing `create_zone`, `update_zone` and `delete_zone` out would: the same operation ids, the
same `x-policy` (`ZONES_POLICY = "permission:zones:write"`) with the dependency that enforces
it, the same OpenAPI document (`tests/core/test_crud.py` checks it). A route that takes
anything more than its path ids, body, caller and `keywords` (a query, the request, a header)
is written out as usual, next to these; so is every route of another shape.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Required, TypedDict, Unpack

from fastapi import APIRouter, Depends, Response, status

from loumo.core.auth import CurrentPrincipal, Principal, require
from loumo.core.db import SessionDep
from loumo.core.http_cache import CachedRead, cacheable
from loumo.core.pagination import Page
from loumo.core.policy import permission_of, policy
from loumo.core.responses import Responses, no_content

ServiceCall = Callable[..., Awaitable[Any]]

_PATH_IDS = re.compile(r"\{(\w+)\}")


class RouteOptions(TypedDict, total=False):
    """What a `CrudRoutes` route declares besides its service call (and body)."""

    summary: Required[str]
    description: str
    responses: Responses
    path: str  # another path than the resource's item (create: the path above it)
    policy: str  # another policy than the resource's, for this route only
    keywords: Mapping[str, Any]  # keyword argument of the service call -> its dependency


def _caller(kind: str) -> Any:
    """The dependency that enforces the policy `kind` (not `public`): `require(permission)`
    for `permission:...`, the signed-in caller for `owner` and `authenticated`."""
    if kind in ("owner", "authenticated"):
        return CurrentPrincipal
    prefixed = permission_of(kind)
    if prefixed is None or prefixed[0] != "permission:":
        raise ValueError(f"CrudRoutes does not declare {kind!r} routes; write them out")
    return Annotated[Principal, Depends(require(prefixed[1]))]


class CrudRoutes:
    """The routes of the resource at `item` (a path ending in its id, e.g. `/{zone_id}`) on
    `router`: get, update and delete at `item`, create and `cached_list` at the path above it
    (`""`).

    - Each route calls `service_call(session, *path_ids, data, **keywords)` (no `data` for get
      and delete) and answers its result as `read`; create answers 201, delete 204 (no body).
    - `cached_list` and `cached_get` declare the cacheable public reads of CONTRIBUTING rule
      13: policy `public`, answered through `CachedRead` and declared `cacheable(...)` (ETag,
      304), the list as a `Page[read]`.
    - Every path id takes the type `id`.
    - The caller is checked by the dependency of `policy` (`require(permission)`); with the
      `owner` policy it is also handed to the service, after the session
      (`service_call(session, principal, ...)`): the domain's ownership query decides. A
      `public` route (a get: `policy="public"`) takes no caller; a `keywords` dependency may
      look at it (`{"include_inactive": Annotated[bool, Depends(holds_any(...))]}`).
    - `keywords` (per route) maps a keyword argument of the service to the dependency that
      gives it; `read_with` holds those the service needs to build `read` (e.g.
      `{"storage": StorageDep}` for image URLs), for every route but delete.
    - The route function is named `<verb>_<resource>` (`create_zone`, `list_zones`: `resource`,
      by default the item's id without `_id`), as a written-out one would be, which keeps the
      OpenAPI operation ids.
    """

    def __init__(
        self,
        router: APIRouter,
        item: str,
        read: Any,
        *,
        id: Any = str,
        policy: str,
        read_with: Mapping[str, Any] | None = None,
        resource: str | None = None,
    ) -> None:
        self.router = router
        self.item = item
        self.collection, _, last = item.rpartition("/")
        self.name = resource or last.strip("{}").removesuffix("_id")
        self.read = read
        self.id = id
        self.policy = policy
        self.read_with = read_with or {}

    def create(self, service_call: ServiceCall, body: Any, **options: Unpack[RouteOptions]) -> None:
        options.setdefault("path", self.collection)
        self._add("POST", service_call, body, options, status_code=status.HTTP_201_CREATED)

    def cached_list(self, service_call: ServiceCall, **options: Unpack[RouteOptions]) -> None:
        options.setdefault("path", self.collection)
        page = Page[self.read]  # type: ignore[name-defined]  # a model made at run time
        self._add(
            "GET", service_call, None, options, name=f"list_{self.name}s", answers=page, cached=True
        )

    def cached_get(self, service_call: ServiceCall, **options: Unpack[RouteOptions]) -> None:
        self._add("GET", service_call, None, options, cached=True)

    def get(self, service_call: ServiceCall, **options: Unpack[RouteOptions]) -> None:
        self._add("GET", service_call, None, options)

    def update(self, service_call: ServiceCall, body: Any, **options: Unpack[RouteOptions]) -> None:
        self._add("PATCH", service_call, body, options)

    def delete(self, service_call: ServiceCall, **options: Unpack[RouteOptions]) -> None:
        self._add("DELETE", service_call, None, options, **no_content())

    def _add(
        self,
        method: str,
        service_call: ServiceCall,
        body: Any,
        options: RouteOptions,
        *,
        name: str | None = None,  # of the route function, when not `<verb>_<resource>`
        answers: Any = None,  # the answer's model, when not `read`
        cached: bool = False,
        **route: Any,
    ) -> None:
        path = options.pop("path", self.item)
        kind = "public" if cached else options.pop("policy", self.policy)
        keywords = {**(self.read_with if method != "DELETE" else {}), **options.pop("keywords", {})}
        ids = _PATH_IDS.findall(self.router.prefix + path)
        hands_caller = kind == "owner"
        returns = answers or (None if method == "DELETE" else self.read)
        responses = options.get("responses")
        if cached:
            route |= cacheable(returns)
            responses = {**route.pop("responses"), **(responses or {})}

        async def endpoint(session: Any, principal: Principal | None = None, **values: Any) -> Any:
            args = [principal] if hands_caller else []
            args += [values[name] for name in ids]
            if body is not None:
                args.append(values["data"])
            answer = await service_call(session, *args, **{name: values[name] for name in keywords})
            if cached:
                return values["cached"](answer)
            return None if returns is None else answer  # a delete answers no body

        # FastAPI reads the parameters (path ids, body, dependencies) from the signature.
        parameters = [_parameter(name, self.id) for name in ids]
        if body is not None:
            parameters.append(_parameter("data", body))
        parameters.append(_parameter("session", SessionDep))
        if kind != "public":
            parameters.append(_parameter("principal", _caller(kind)))
        parameters += [_parameter(name, dependency) for name, dependency in keywords.items()]
        if cached:
            parameters.append(_parameter("cached", CachedRead))
        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            parameters, return_annotation=Response if cached else returns
        )
        verb = {"POST": "create", "GET": "get", "PATCH": "update", "DELETE": "delete"}[method]
        endpoint.__name__ = endpoint.__qualname__ = name or f"{verb}_{self.name}"
        self.router.add_api_route(
            path,
            endpoint,
            methods=[method],
            summary=options["summary"],
            description=options.get("description"),
            responses=responses,
            **route,
            **policy(kind),
        )


def _parameter(name: str, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
