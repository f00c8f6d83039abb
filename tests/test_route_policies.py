"""Every route declares its access policy, and the declaration matches its dependencies."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from loumo.core.auth import CurrentPrincipal, _principal
from loumo.core.policy import KINDS, POLICY_KEY, permission_of, policy

DOCS_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}  # public
PUBLIC_MOUNTS = {"/media"}  # public files, addressed by unguessable keys


def _calls(dependant: Dependant) -> list[object]:
    found: list[object] = []
    for dependency in dependant.dependencies:
        found.append(dependency.call)
        found += _calls(dependency)
    return found


def policy_problems(app: FastAPI) -> list[str]:
    problems = []
    contexts = list(iter_route_contexts(app.routes))
    assert any(isinstance(c.original_route, APIRoute) for c in contexts)
    for context in contexts:
        route = context.original_route
        if isinstance(route, APIRoute):
            kind = (route.openapi_extra or {}).get(POLICY_KEY)
            where = f"{sorted(route.methods or ())} {context.path}"
            if kind is None:
                problems.append(f"{where}: no policy (use **policy(...) from loumo.core.policy)")
                continue
            prefixed = permission_of(kind)
            if kind not in KINDS and prefixed is None:
                problems.append(f"{where}: unknown policy {kind!r}")
            calls = _calls(route.dependant)
            if kind != "public" and _principal not in calls:
                problems.append(f"{where}: policy {kind!r} but no authenticated principal")
            if prefixed is not None:
                # The dependency that enforces it: require() or manager_or() of that permission.
                prefix, permission = prefixed
                enforcer = {"permission:": "require", "manager_or:": "manager_or"}[prefix]
                needed = f"{enforcer}_{permission.replace(':', '_')}"
                if needed not in {getattr(c, "__name__", "") for c in calls}:
                    problems.append(f"{where}: policy {kind!r} but no {enforcer}() dependency")
        elif isinstance(route, Mount):
            if context.path not in PUBLIC_MOUNTS:
                problems.append(f"mount {context.path}: not a declared public mount")
        elif isinstance(route, Route):
            if context.path not in DOCS_ROUTES:
                problems.append(f"{context.path}: a plain route without a policy")
        else:
            problems.append(f"{route!r}: unknown route type")
    return problems


def test_every_route_declares_a_policy(app: FastAPI) -> None:
    assert policy_problems(app) == []


def test_the_check_catches_undeclared_and_inconsistent_routes() -> None:
    probe = FastAPI()
    router = APIRouter(prefix="/x")

    @router.get("/bare")
    async def bare() -> None:
        """No policy."""

    @router.get("/claims", **policy("permission:users:read"))
    async def claims(principal: CurrentPrincipal) -> None:
        """Says permission, checks only sign-in."""

    @router.get("/{shop_id}/stock", **policy("manager_or:stock:write"))
    async def stock(shop_id: str, principal: CurrentPrincipal) -> None:
        """Says manager of this shop, checks only sign-in."""

    router.add_api_route("/fine", bare, **policy("public"))
    probe.include_router(router)
    problems = policy_problems(probe)
    assert len(problems) == 3
    assert "/x/bare: no policy" in problems[0]
    assert "/x/claims: policy 'permission:users:read' but no require()" in problems[1]
    assert "/x/{shop_id}/stock: policy 'manager_or:stock:write' but no manager_or()" in problems[2]


async def test_policies_are_published_in_openapi(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/api/v1/me"]["get"][POLICY_KEY] == "authenticated"
    assert spec["paths"]["/healthz"]["get"][POLICY_KEY] == "public"
    assert spec["paths"]["/api/v1/audit-log"]["get"][POLICY_KEY] == "permission:audit:read"
    orders = spec["paths"]["/api/v1/orders/{order_id}/transitions"]["post"]
    assert orders[POLICY_KEY] == "permission:orders:write"
    assert spec["paths"]["/api/v1/orders/{order_id}"]["get"][POLICY_KEY] == "owner"
    payments = spec["paths"]["/api/v1/payments/{payment_id}/refunds"]["post"]
    assert payments[POLICY_KEY] == "permission:payments:refund"
    assert spec["paths"]["/api/v1/orders/{order_id}/payments"]["post"][POLICY_KEY] == "owner"
    assert spec["paths"]["/api/v1/webhooks/pawapay/deposits"]["post"][POLICY_KEY] == "public"
