"""Accounts I/O: registration, tokens, profile, addresses, users, roles."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal, Self

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
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


def clean_text(value: str) -> str:
    """Strip, NFC-normalise, and refuse control characters in user-visible text."""
    value = unicodedata.normalize("NFC", value.strip())
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co"} for c in value):
        raise ValueError("control and format characters are not allowed")
    if not value:
        raise ValueError("must not be blank")
    return value


def clean_multiline(value: str) -> str:
    """Like `clean_text`, but keeps line breaks and tabs, and may be empty."""
    value = unicodedata.normalize("NFC", value.strip())
    allowed = {"\n", "\r", "\t"}
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co"} and c not in allowed for c in value):
        raise ValueError("control and format characters are not allowed")
    return value


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(normalize_email)]
Name = Annotated[str, StringConstraints(max_length=120), AfterValidator(clean_text)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ]{5,19}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=200), AfterValidator(clean_text)]
LongText = Annotated[str, StringConstraints(max_length=1000), AfterValidator(clean_multiline)]
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,49}$")]
PermissionName = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z_]+:[a-z_*]+)$")]


class Input(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    def _refuse_nulls(self, *fields: str) -> None:
        for name in fields:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")


class Message(BaseModel):
    detail: str


class UserCreate(Input):
    name: Name
    email: Email
    password: Password
    phone: Phone | None = None
    language: Language | None = None


class EmailVerify(Input):
    email: Email | None = None
    code: Code | None = None
    token: OpaqueToken | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if not self.token and not (self.email and self.code):
            raise ValueError("give either token, or email and code")
        return self


class EmailOnly(Input):
    email: Email


class LoginRequest(Input):
    email: Email
    password: Password


class RefreshRequest(Input):
    refresh_token: OpaqueToken


class PasswordReset(Input):
    token: OpaqueToken | None = None
    email: Email | None = None
    code: Code | None = None
    new_password: Password

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if not self.token and not (self.email and self.code):
            raise ValueError("give either token, or email and code")
        return self


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    phone: str | None
    language: Language
    email_verified: bool
    fidelity_points: int
    roles: list[str]
    created_at: datetime


class UserUpdate(Input):
    """The fields a user may change on their own account."""

    name: Name | None = None
    phone: Phone | None = None
    language: Language | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        self._refuse_nulls("name", "language")
        return self


class UserAdminRead(UserRead):
    is_active: bool
    last_login_at: datetime | None
    updated_at: datetime


class UserAdminUpdate(Input):
    name: Name | None = None
    is_active: bool | None = None
    roles: Annotated[list[RoleName], Field(max_length=20)] | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        self._refuse_nulls("name", "is_active", "roles")
        return self


Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class AddressCreate(Input):
    label: Annotated[str, StringConstraints(max_length=60), AfterValidator(clean_text)]
    street: Text
    locality: Annotated[str, StringConstraints(max_length=120), AfterValidator(clean_text)]
    description: LongText = ""
    zone_id: Id
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    is_default: bool = False


class AddressUpdate(Input):
    label: Annotated[str, StringConstraints(max_length=60), AfterValidator(clean_text)] | None = (
        None
    )
    street: Text | None = None
    locality: (
        Annotated[str, StringConstraints(max_length=120), AfterValidator(clean_text)] | None
    ) = None
    description: LongText | None = None
    zone_id: Id | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    is_default: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        self._refuse_nulls("label", "street", "locality", "description", "zone_id", "is_default")
        return self


class AddressRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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


class RoleUpdate(Input):
    description: LongText | None = None
    permissions: Annotated[list[PermissionName], Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        self._refuse_nulls("description", "permissions")
        return self
