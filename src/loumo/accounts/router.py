"""Accounts HTTP API: /auth, /me, /users, /roles, /permissions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from loumo.accounts import (
    addresses,
    favorites,
    password_reset,
    profile,
    registration,
    roles,
    sessions,
    signin,
    users,
)
from loumo.accounts.context import AuthContext
from loumo.accounts.schemas import (
    AddressCreate,
    AddressRead,
    AddressUpdate,
    EmailOnly,
    EmailVerified,
    EmailVerify,
    FavoriteRead,
    LoginRequest,
    Message,
    PasswordReset,
    PermissionRead,
    RefreshRequest,
    RoleCreate,
    RoleName,
    RoleRead,
    RoleUpdate,
    TokenPair,
    UserAdminRead,
    UserAdminUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)
from loumo.audit.deps import RequestMetaDep
from loumo.core.auth import (
    CurrentPrincipal,
    OptionalSignedInPrincipal,
    Principal,
    SignedInPrincipal,
    require,
)
from loumo.core.crud import CrudRoutes
from loumo.core.db import SessionDep
from loumo.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page
from loumo.core.policy import policy
from loumo.core.ratelimit import RATE_LIMITED
from loumo.core.responses import described
from loumo.core.schemas import Id
from loumo.core.settings import Settings
from loumo.media.dependencies import StorageDep


def auth_context(request: Request, meta: RequestMetaDep) -> AuthContext:
    settings: Settings = request.app.state.settings
    return AuthContext(
        secret_key=request.app.state.secret_key,
        limiter=request.app.state.rate_limiter,
        public_base_url=settings.public_base_url,
        meta=meta,
    )


AuthContextDep = Annotated[AuthContext, Depends(auth_context)]
ObjectId = Annotated[Id, Path()]
Filter = Annotated[str | None, Query(pattern=r"^[\x20-\x7e]{1,254}$")]


ACCEPTED = Message(detail="If the address can receive it, a message is on its way.")
# The routes that must not tell whether an account exists: 202 and `ACCEPTED` either way.
SAME_ANSWER = {
    "description": "The answer is the same whether or not the account exists.",
    "responses": RATE_LIMITED,
    "status_code": status.HTTP_202_ACCEPTED,
    **policy("public"),
}

auth = APIRouter(prefix="/auth", tags=["auth"])


@auth.post(
    "/register", summary="Create a customer account and email a verification code", **SAME_ANSWER
)
async def register(
    data: UserCreate, session: SessionDep, ctx: AuthContextDep, request: Request
) -> Message:
    settings: Settings = request.app.state.settings
    await registration.register(session, ctx, data, settings.default_language)
    return ACCEPTED


@auth.post(
    "/verify-email",
    summary="Verify the email with `{email, code}` or with the link's `{token}`",
    description=(
        "Verifying signs every earlier session of the account out; a caller who sends the "
        "bearer token of one of them gets a fresh session in `tokens`."
    ),
    responses=RATE_LIMITED,
    response_model=EmailVerified,
    **policy("public"),
)
async def verify_email(
    data: EmailVerify,
    session: SessionDep,
    ctx: AuthContextDep,
    caller: OptionalSignedInPrincipal,
) -> EmailVerified:
    tokens = await registration.verify_email(
        session, ctx, token=data.token, email=data.email, code=data.code, caller=caller
    )
    return EmailVerified(detail="Email verified", tokens=tokens)


@auth.post("/resend-verification", summary="Send a new verification code", **SAME_ANSWER)
async def resend_verification(data: EmailOnly, session: SessionDep, ctx: AuthContextDep) -> Message:
    await registration.resend_verification(session, ctx, data.email)
    return ACCEPTED


@auth.post(
    "/login",
    summary="Exchange email and password for an access token (15 min) and a refresh token",
    responses={**RATE_LIMITED, 401: {"description": "Wrong email or password"}},
    response_model=TokenPair,
    **policy("public"),
)
async def login(data: LoginRequest, session: SessionDep, ctx: AuthContextDep) -> TokenPair:
    return await signin.login(session, ctx, data.email, data.password)


@auth.post(
    "/refresh",
    summary="Spend a refresh token for a new pair",
    description="Reusing a spent refresh token revokes the whole session.",
    responses={401: {"description": "Unknown, expired or revoked refresh token"}},
    response_model=TokenPair,
    **policy("public"),
)
async def refresh(data: RefreshRequest, session: SessionDep, ctx: AuthContextDep) -> TokenPair:
    return await sessions.refresh(session, ctx, data.refresh_token)


@auth.post(
    "/logout",
    summary="Revoke the session of this refresh token",
    description="Its access tokens stop working at once.",
    status_code=status.HTTP_204_NO_CONTENT,
    **policy("public"),
)
async def logout(data: RefreshRequest, session: SessionDep, ctx: AuthContextDep) -> Response:
    await sessions.logout(session, ctx, data.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.post("/password/forgot", summary="Email a password reset link and code", **SAME_ANSWER)
async def forgot_password(data: EmailOnly, session: SessionDep, ctx: AuthContextDep) -> Message:
    await password_reset.forgot_password(session, ctx, data.email)
    return ACCEPTED


@auth.post(
    "/password/reset",
    summary="Set a new password with `{token}` or `{email, code}`",
    description="Every session of the account is signed out.",
    responses=RATE_LIMITED,
    response_model=Message,
    **policy("public"),
)
async def reset_password(data: PasswordReset, session: SessionDep, ctx: AuthContextDep) -> Message:
    await password_reset.reset_password(
        session, ctx, data.new_password, token=data.token, email=data.email, code=data.code
    )
    return Message(detail="Password changed")


me = APIRouter(prefix="/me", tags=["me"])


@me.get(
    "",
    summary="The caller's account (fidelity points are read-only)",
    description="An account whose email is not verified yet may read it (`email_verified`).",
    **policy("authenticated"),
)
async def get_me(session: SessionDep, principal: SignedInPrincipal) -> UserRead:
    return await profile.get_me(session, principal)


@me.patch(
    "",
    summary="Change the caller's name, phone or language",
    **policy("authenticated"),
)
async def update_me(data: UserUpdate, session: SessionDep, principal: CurrentPrincipal) -> UserRead:
    return await profile.update_me(session, principal, data)


@me.get(
    "/addresses",
    summary="The caller's delivery addresses, default first",
    **policy("owner"),
)
async def list_addresses(session: SessionDep, principal: CurrentPrincipal) -> Page[AddressRead]:
    return Page[AddressRead](items=await addresses.list_addresses(session, principal))


address_routes = CrudRoutes(me, "/addresses/{address_id}", AddressRead, id=ObjectId, policy="owner")
address_routes.create(
    addresses.create_address,
    AddressCreate,
    summary="Add a delivery address in a zone; the first becomes the default",
)
address_routes.get(addresses.get_address, summary="One of the caller's addresses")
address_routes.update(
    addresses.update_address,
    AddressUpdate,
    summary="Change one of the caller's addresses (`is_default: true` makes it the default)",
)
address_routes.delete(addresses.delete_address, summary="Delete one of the caller's addresses")


@me.get(
    "/favorites",
    summary="The caller's favorite products, newest first",
    **policy("owner"),
)
async def list_favorites(
    session: SessionDep,
    principal: CurrentPrincipal,
    storage: StorageDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> Page[FavoriteRead]:
    return await favorites.list_favorites(
        session, principal, cursor=cursor, limit=limit, storage=storage
    )


@me.put(
    "/favorites/{product_id}",
    summary="Mark a product as a favorite (idempotent); an unknown product is a 404",
    **policy("owner"),
)
async def add_favorite(
    product_id: ObjectId, session: SessionDep, principal: CurrentPrincipal, storage: StorageDep
) -> FavoriteRead:
    return await favorites.add_favorite(session, principal, product_id, storage=storage)


@me.delete(
    "/favorites/{product_id}",
    summary="Remove a product from the caller's favorites",
    description="Idempotent for an existing product; an unknown product is a 404.",
    status_code=status.HTTP_204_NO_CONTENT,
    **policy("owner"),
)
async def remove_favorite(
    product_id: ObjectId, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await favorites.remove_favorite(session, principal, product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


staff = APIRouter(tags=["staff"])
UsersReader = Annotated[Principal, Depends(require("users:read"))]
RolesReader = Annotated[Principal, Depends(require("roles:read"))]


@staff.get(
    "/users",
    summary="User accounts, newest first, filtered by role, email prefix or active flag",
    **policy("permission:users:read"),
)
async def list_users(
    session: SessionDep,
    _: UsersReader,
    role: Filter = None,
    email: Annotated[
        str | None, Query(pattern=r"^[\x20-\x7e]{1,254}$", description="Email prefix")
    ] = None,
    is_active: bool | None = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> Page[UserAdminRead]:
    items, next_cursor = await users.list_users(
        session, role=role, email=email, is_active=is_active, cursor=cursor, limit=limit
    )
    return Page[UserAdminRead](items=items, next_cursor=next_cursor)


user_routes = CrudRoutes(
    staff,
    "/users/{user_id}",
    UserAdminRead,
    id=ObjectId,
    policy="permission:users:write",
)
user_routes.get(users.get_user, summary="One user account", policy="permission:users:read")
user_routes.update(
    users.update_user,
    UserAdminUpdate,
    summary="Rename, (de)activate, or assign roles (`roles:assign`)",
    description="Deactivation signs the user out of every session.",
    responses=described({409: "Staff cannot deactivate their own account"}),
    keywords={"actor": CurrentPrincipal, "ctx": AuthContextDep},
)


@staff.get(
    "/permissions",
    summary="The permission catalog (`resource:action`)",
    **policy("permission:roles:read"),
)
async def list_permissions(_: RolesReader) -> Page[PermissionRead]:
    return Page[PermissionRead](items=roles.list_permissions())


@staff.get(
    "/roles",
    summary="Built-in and custom roles with their permissions",
    **policy("permission:roles:read"),
)
async def list_roles(session: SessionDep, _: RolesReader) -> Page[RoleRead]:
    return Page[RoleRead](items=await roles.list_roles(session))


role_routes = CrudRoutes(
    staff,
    "/roles/{name}",
    RoleRead,
    id=RoleName,
    policy="permission:roles:write",
    resource="role",
)
# `keywords=` of a change to a role: the service checks what the caller (the one the route's
# policy admitted) may grant, and audits who made it and from where.
AUDITED = {"actor": CurrentPrincipal, "meta": RequestMetaDep}
BUILTIN = described({409: "A built-in role"})
role_routes.create(
    roles.create_role,
    RoleCreate,
    summary="Create a custom role granting permissions the caller holds",
    responses=described({409: "A role has this name already"}),
    keywords=AUDITED,
)
role_routes.get(roles.get_role, summary="One role", policy="permission:roles:read")
role_routes.update(
    roles.update_role,
    RoleUpdate,
    summary="Change a custom role's description or permissions (built-in roles are fixed)",
    responses=BUILTIN,
    keywords=AUDITED,
)
role_routes.delete(
    roles.delete_role,
    summary="Delete a custom role; its holders lose it",
    responses=BUILTIN,
    keywords=AUDITED,
)


router = APIRouter()
router.include_router(auth)
router.include_router(me)
router.include_router(staff)
