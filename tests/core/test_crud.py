"""`CrudRoutes` (`loumo.core.crud`) declares the same routes as writing them out."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Response, status
from fastapi.routing import APIRoute

from loumo.core.auth import CurrentPrincipal, Principal, holds_any, require
from loumo.core.crud import CrudRoutes
from loumo.core.db import SessionDep
from loumo.core.http_cache import CachedRead, cacheable
from loumo.core.pagination import Page
from loumo.core.policy import policy
from loumo.core.responses import described, no_content
from loumo.core.schemas import Id, Input
from tests.test_route_policies import policy_problems

ThingId = Annotated[Id, Path(description="A thing id")]
Writer = Annotated[Principal, Depends(require("things:write"))]
SeesInactive = Annotated[bool, Depends(holds_any("things:write"))]
TAKEN = described({409: "The name is taken"})


class ThingCreate(Input):
    name: str


class ThingRead(Input):
    id: str
    name: str


async def create_thing(session: Any, data: ThingCreate) -> ThingRead:
    return ThingRead(id="1", name=data.name)


async def get_thing(session: Any, thing_id: str, *, include_inactive: bool) -> ThingRead:
    return ThingRead(id=thing_id, name="x")


async def delete_thing(session: Any, thing_id: str) -> None:
    """Deletes nothing: only its signature matters here."""


def written_out() -> APIRouter:
    router = APIRouter(prefix="/things")

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        summary="Create a thing",
        responses=TAKEN,
        **policy("permission:things:write"),
    )
    async def create_thing(data: ThingCreate, session: SessionDep, _: Writer) -> ThingRead:
        return ThingRead(id="1", name=data.name)

    @router.get("/{thing_id}", summary="One thing", **policy("public"))
    async def get_thing(thing_id: ThingId, session: SessionDep, sees: SeesInactive) -> ThingRead:
        return ThingRead(id=thing_id, name="x")

    @router.delete(
        "/{thing_id}",
        summary="Delete a thing",
        **no_content(),
        **policy("permission:things:write"),
    )
    async def delete_thing(thing_id: ThingId, session: SessionDep, _: Writer) -> None:
        return None

    return router


def declared() -> APIRouter:
    router = APIRouter(prefix="/things")
    things = CrudRoutes(
        router, "/{thing_id}", ThingRead, id=ThingId, policy="permission:things:write"
    )
    things.create(create_thing, ThingCreate, summary="Create a thing", responses=TAKEN)
    things.get(
        get_thing,
        summary="One thing",
        policy="public",
        keywords={"include_inactive": SeesInactive},
    )
    things.delete(delete_thing, summary="Delete a thing")
    return router


def _app(router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    return app


def test_the_openapi_document_is_the_written_out_one() -> None:
    router = declared()
    expected, got = _app(written_out()), _app(router)
    assert got.openapi() == expected.openapi()
    assert policy_problems(got) == []
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    assert [(r.name, r.status_code) for r in routes] == [
        ("create_thing", 201),
        ("get_thing", None),
        ("delete_thing", 204),
    ]


async def test_an_owner_route_hands_the_caller_to_the_service() -> None:
    router = APIRouter()
    calls: list[tuple[Any, ...]] = []

    async def get_note(session: Any, principal: Principal, note_id: str) -> ThingRead:
        calls.append((session, principal, note_id))
        return ThingRead(id=note_id, name="mine")

    CrudRoutes(router, "/notes/{note_id}", ThingRead, policy="owner").get(
        get_note, summary="One of the caller's notes"
    )
    route = router.routes[0]
    assert isinstance(route, APIRoute)
    assert route.name == "get_note"
    assert route.openapi_extra == {"x-policy": "owner"}
    caller = Principal(user_id="u1")
    answer = await route.endpoint(session="session", principal=caller, note_id="n1")
    assert answer == ThingRead(id="n1", name="mine")
    assert calls == [("session", caller, "n1")]
    assert policy_problems(_app(router)) == []


def test_a_policy_without_a_declarable_dependency_is_refused() -> None:
    things = CrudRoutes(APIRouter(), "/{thing_id}", ThingRead, policy="manager_or:stock:write")
    with pytest.raises(ValueError, match="write them out"):
        things.delete(delete_thing, summary="Delete a thing")


async def test_the_resource_can_be_named_when_the_item_id_does_not_say_it() -> None:
    router = APIRouter()
    calls: list[tuple[Any, ...]] = []

    async def delete_role(session: Any, name: str, *, actor: Principal) -> None:
        calls.append((session, name, actor))

    roles = CrudRoutes(
        router, "/roles/{name}", ThingRead, policy="permission:roles:write", resource="role"
    )
    roles.delete(delete_role, summary="Delete a role", keywords={"actor": CurrentPrincipal})
    route = router.routes[0]
    assert isinstance(route, APIRoute)
    assert route.name == "delete_role"
    caller = Principal(user_id="u1")
    assert await route.endpoint(session="s", principal=caller, name="clerk", actor=caller) is None
    assert calls == [("s", "clerk", caller)]
    assert policy_problems(_app(router)) == []


async def list_things(session: Any, *, include_inactive: bool) -> Page[ThingRead]:
    return Page[ThingRead](items=[])


def written_out_reads() -> APIRouter:
    router = APIRouter(prefix="/things")

    @router.get("", summary="Things", **cacheable(Page[ThingRead]), **policy("public"))
    async def list_things(session: SessionDep, sees: SeesInactive, cached: CachedRead) -> Response:
        return cached(Page[ThingRead](items=[]))

    @router.get("/{thing_id}", summary="One thing", **cacheable(ThingRead), **policy("public"))
    async def get_thing(
        thing_id: ThingId, session: SessionDep, sees: SeesInactive, cached: CachedRead
    ) -> Response:
        return cached(ThingRead(id=thing_id, name="x"))

    return router


def test_cached_reads_are_the_written_out_cacheable_public_reads() -> None:
    router = APIRouter(prefix="/things")
    things = CrudRoutes(router, "/{thing_id}", ThingRead, id=ThingId, policy="owner")
    sees = {"include_inactive": SeesInactive}
    things.cached_list(list_things, summary="Things", keywords=sees)
    things.cached_get(get_thing, summary="One thing", keywords=sees)
    assert _app(router).openapi() == _app(written_out_reads()).openapi()
    assert [r.name for r in router.routes if isinstance(r, APIRoute)] == [
        "list_things",
        "get_thing",
    ]
    assert policy_problems(_app(router)) == []
