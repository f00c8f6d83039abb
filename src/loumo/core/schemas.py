"""The shared schema kit: request-body bases and the field types every package uses.

- `Input`: base of every request body; an unknown field is a 422, never silently dropped, and
  so is a value no column can hold: a string with a NUL character, an integer beyond the
  signed 32-bit range of every integer column (`null_character`, `int_out_of_range`).
- `Read`: base of every answer schema built from a row (`XRead.model_validate(row)`).
- `PatchInput`: base of every PATCH body; an explicit `null` for a field that cannot be null is a
  422 with one field error per offending field. Fields that may be cleared with `null` are named
  in the class's `nullable`; the OpenAPI schema shows every other field as non-nullable. A PATCH
  that changes what a create body sets names it in `patch_of` and takes its fields from it.
- `Id`, `Currency`, `Slug`, `Name`, `Phone`, `UtcDatetime`, `Latitude`, `Longitude`: one
  definition each.
- `validate_document`: checks a stored object merged with a PATCH against the rules of its
  schema, so that a rule about the document lives in one place (the schema) with one status (422).
"""

from __future__ import annotations

import inspect
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar, get_type_hints

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from loumo.core.errors import InvalidPayload, field_errors

_INVISIBLE = {"Cc", "Cf", "Cs", "Co"}


def clean_text(value: str) -> str:
    """Strip, NFC-normalise, and refuse control characters in user-visible text."""
    value = unicodedata.normalize("NFC", value.strip())
    if any(unicodedata.category(c) in _INVISIBLE for c in value):
        raise ValueError("control and format characters are not allowed")
    if not value:
        raise ValueError("must not be blank")
    return value


def clean_multiline(value: str) -> str:
    """Like `clean_text`, but keeps line breaks and tabs, and may be empty."""
    value = unicodedata.normalize("NFC", value.strip())
    allowed = {"\n", "\r", "\t"}
    if any(unicodedata.category(c) in _INVISIBLE and c not in allowed for c in value):
        raise ValueError("control and format characters are not allowed")
    return value


Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
"""An id as the API returns it (opaque to clients; at most 32 characters). An id of the right
shape that names nothing is the service's answer (404, or 400 for a reference in a body)."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""An ISO 4217 code, three capital letters (`XAF`)."""

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=120)
]
"""Lower-case words joined by single dashes, as used in URLs."""

Name = Annotated[str, StringConstraints(max_length=120), AfterValidator(clean_text)]
"""A display name: stripped, NFC-normalised, not blank, no control characters, ≤ 120 chars."""

Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ]{5,19}$")]
"""A phone number as people type it: an optional `+`, then 6 to 20 digits and spaces."""


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""An instant; a time given without an offset is taken as UTC (so instants always compare)."""

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
"""WGS 84 coordinates in degrees (an address's, a zone's polygon points)."""


INT_MIN, INT_MAX = -(2**31), 2**31 - 1
"""The range of every integer column (SQL `INTEGER`, 32-bit on PostgreSQL)."""


def _unstorable(value: Any) -> PydanticCustomError | None:
    """Why `value` (a field's validated value, walked through lists and dicts) cannot reach
    the database, if it cannot: a NUL in a string, or an integer beyond `INT_MIN..INT_MAX`.
    Nested models are skipped: an `Input` checks its own fields."""
    if isinstance(value, str):
        if "\x00" in value:
            return PydanticCustomError("null_character", "NUL characters are not allowed")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not INT_MIN <= value <= INT_MAX:
            return PydanticCustomError(
                "int_out_of_range",
                "Integers are at least {min} and at most {max}",
                {"min": INT_MIN, "max": INT_MAX},
            )
        return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            problem = _unstorable(item)
            if problem is not None:
                return problem
    return None


class Input(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped, and so is
    a value no column can hold (a NUL in a string, an integer beyond `INT_MIN..INT_MAX`)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        problem = _unstorable(value)
        if problem is not None:
            raise problem
        return value


class Read(BaseModel):
    """Base of every answer schema built from a row: `XRead.model_validate(row)` reads the
    fields from the row's attributes (`from_attributes`)."""

    model_config = ConfigDict(from_attributes=True)


def _non_nullable_schema(schema: dict[str, Any], cls: type[Any]) -> None:
    """Show the fields outside `nullable` as non-nullable in the JSON schema (and OpenAPI)."""
    nullable: frozenset[str] = getattr(cls, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name in nullable or "anyOf" not in prop:
            continue
        options = [o for o in prop["anyOf"] if o != {"type": "null"}]
        if len(options) == len(prop["anyOf"]):
            continue
        del prop["anyOf"]
        if len(options) == 1:
            prop.update(options[0])
        else:
            prop["anyOf"] = options
        if prop.get("default", ...) is None:
            del prop["default"]


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Dotted path of the field within its location, e.g. `name`")
    location: str = Field(description="`body`, `query`, `path` or `header`")
    message: str
    type: str = Field(description="A stable error type, e.g. `missing`, `null_not_allowed`")


class Problem(BaseModel):
    """An RFC 9457 problem document: every error answer of the API (`core.errors` renders
    them). An error may add members of its own (e.g. the new quote of a price change)."""

    model_config = ConfigDict(json_schema_extra=_non_nullable_schema)

    nullable: ClassVar[frozenset[str]] = frozenset({"request_id"})

    type: str = Field(description="`about:blank#<code>`")
    title: str
    status: int
    detail: str
    code: str = Field(description="A stable, machine-readable error code")
    instance: str = Field(description="The path of the request")
    request_id: str | None = Field(description="The `X-Request-ID` of the request")
    errors: list[FieldError] | None = Field(
        default=None, description="Per-field details of a validation error (422)"
    )
    field: str | None = Field(default=None, description="The field a refused rule is about")


def _patch_fields(cls: type[PatchInput], create: type[BaseModel]) -> None:
    """Give `cls` the fields of `create` but those in `cls.fixed`, in `create`'s order, each
    optional (default `None`) with its type and constraints; a field `cls` declares itself stays
    as declared.

    The create field's own description and default are not carried: they speak of creating
    ("derived from `name` when omitted"). A description that is part of the type (`Position`)
    comes with the type.
    """
    unknown = cls.fixed - set(create.model_fields)
    if unknown:
        raise TypeError(f"{cls.__name__}.fixed names no field of `patch_of`: {sorted(unknown)}")
    declared = inspect.get_annotations(cls)
    hints = get_type_hints(create, include_extras=True)
    annotations: dict[str, Any] = {}
    for name, field in create.model_fields.items():
        if name in declared:
            annotations[name] = declared[name]
        elif name not in cls.fixed:
            of_type = FieldInfo.from_annotation(hints[name]).metadata
            constraints = [m for m in field.metadata if m not in of_type]
            optional = hints[name] | None
            annotations[name] = Annotated[(optional, *constraints)] if constraints else optional
            setattr(cls, name, None)
    cls.__annotations__ = {**annotations, **declared}


class PatchInput(Input):
    """Base of every PATCH body: fields left out stay as they are; `null` is refused (422)
    except for the fields named in `nullable`, where it clears the value.

    `patch_of = XCreate` gives the class every field of `XCreate` but those named in `fixed`
    (set once, or changed by a route of their own), each optional, with its type and
    constraints. Read such a body with `model_dump(exclude_unset=True)`: its derived fields are
    unknown to the type checker (declare a field in the class to read it as an attribute).
    """

    model_config = ConfigDict(json_schema_extra=_non_nullable_schema)

    nullable: ClassVar[frozenset[str]] = frozenset()
    patch_of: ClassVar[type[BaseModel] | None] = None
    fixed: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Called before pydantic collects the fields, so derived fields are plain fields.
        create = cls.__dict__.get("patch_of")
        if create is not None:
            _patch_fields(cls, create)
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        unknown = cls.nullable - set(cls.model_fields)
        if unknown:
            raise TypeError(f"{cls.__name__}.nullable names no field: {sorted(unknown)}")

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise PydanticCustomError(
                "null_not_allowed",
                "{field} cannot be null; leave it out to keep it",
                {"field": info.field_name},
            )
        return value


def field_problems(model: BaseModel, problems: Mapping[str, str]) -> ValidationError:
    """A validation error with one entry per field, for a model validator to raise: each rule
    broken by a document is reported on the field a client has to change."""
    return ValidationError.from_exception_data(
        type(model).__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError("value_error", message),
                loc=(field,),
                input=getattr(model, field, None),
            )
            for field, message in problems.items()
        ],
    )


M = TypeVar("M", bound=BaseModel)


def validate_document(model: type[M], document: dict[str, Any]) -> M:
    """`document` (a stored object merged with a PATCH) checked against `model`'s rules.

    A failure is the same 422 a request body failing its schema gets, so a rule about the
    document lives once, in the schema, whether the document is created or changed.
    """
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise InvalidPayload(
            errors=field_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        ) from None
