"""Accounts I/O: registration, tokens, profile, addresses, users, roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    model_validator,
)

from loumo.core.schemas import (
    Id,
    Input,
    Latitude,
    Longitude,
    Name,
    PatchInput,
    Phone,
    Read,
    clean_multiline,
    clean_text,
)
from loumo.media.schemas import ImageRead

Language = Literal["fr", "en"]


def normalize_email(value: str) -> str:
    """Lower-case a plain ASCII address; refuse look-alike, full-width and control characters.

    Accepting Unicode addresses would let `admin@loumo.cm` and a homoglyph of it coexist as two
    accounts, so addresses are restricted to printable ASCII.
    """
    if any(not (33 <= ord(c) <= 126) for c in value):
        raise ValueError("use a plain ASCII email address, without spaces or special characters")
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return result.normalized.lower()


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(normalize_email)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=200), AfterValidator(clean_text)]
LongText = Annotated[str, StringConstraints(max_length=1000), AfterValidator(clean_multiline)]
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,49}$")]
PermissionName = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z_]+:[a-z_*]+)$")]


class Message(BaseModel):
    detail: str


class UserCreate(Input):
    name: Name
    email: Email
    password: Password
    phone: Phone | None = None
    language: Language | None = None


class TokenOrCode(Input):
    """A proof of the mailbox: the emailed link's `token`, or the `email` and its emailed `code`."""

    token: OpaqueToken | None = None
    email: Email | None = None
    code: Code | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if not self.token and not (self.email and self.code):
            raise ValueError("give either token, or email and code")
        return self


class EmailVerify(TokenOrCode):
    pass


class EmailOnly(Input):
    email: Email


class LoginRequest(Input):
    email: Email
    password: Password


class RefreshRequest(Input):
    refresh_token: OpaqueToken


class PasswordReset(TokenOrCode):
    new_password: Password


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int


class EmailVerified(Message):
    """Verifying revokes every earlier session of the account; a caller who sent the bearer
    token of one gets a fresh session here (`null` otherwise)."""

    tokens: TokenPair | None = None


class UserRead(Read):
    id: str
    email: str
    name: str
    phone: str | None
    language: Language
    email_verified: bool
    fidelity_points: int
    roles: list[str]
    created_at: datetime


class UserUpdate(PatchInput):
    """The fields a user may change on their own account; `phone: null` removes the phone."""

    patch_of = UserCreate
    fixed = frozenset({"email", "password"})
    nullable = frozenset({"phone"})


class UserAdminRead(UserRead):
    is_active: bool
    last_login_at: datetime | None
    updated_at: datetime


class UserAdminUpdate(PatchInput):
    name: Name | None = None
    is_active: bool | None = None
    roles: Annotated[list[RoleName], Field(max_length=20)] | None = None


Label = Annotated[str, StringConstraints(max_length=60), AfterValidator(clean_text)]


class AddressCreate(Input):
    label: Label
    street: Text
    locality: Name
    description: LongText = ""
    zone_id: Id | None = Field(
        default=None, description="Left out: the active zone that covers the address"
    )
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    is_default: bool = False


class AddressUpdate(PatchInput):
    """Fields to change; `latitude: null` and `longitude: null` remove the coordinates."""

    patch_of = AddressCreate
    nullable = frozenset({"latitude", "longitude"})


class AddressRead(Read):
    id: str
    label: str
    street: str
    locality: str
    description: str
    zone_id: str
    latitude: float | None
    longitude: float | None
    is_default: bool
    created_at: datetime
    updated_at: datetime


class FavoriteRead(BaseModel):
    """A favorite product, with what a list needs to show it."""

    product_id: str
    slug: str
    name_fr: str
    name_en: str
    price: int | None = Field(description="Lowest active variant price (minor units)")
    currency: str
    image: ImageRead | None = Field(description="The product's first image")
    favorited_at: datetime


class PermissionRead(BaseModel):
    name: str
    description: str


class RoleRead(BaseModel):
    name: str
    description: str
    permissions: list[str]
    builtin: bool


class RoleCreate(Input):
    name: RoleName
    description: LongText = ""
    permissions: Annotated[list[PermissionName], Field(max_length=200)] = []


class RoleUpdate(PatchInput):
    description: LongText | None = None
    permissions: Annotated[list[PermissionName], Field(max_length=200)] | None = None
