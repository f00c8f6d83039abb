"""The shared schema kit: field types, request-body bases, document checks, flush-or-409."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator

from loumo.core.db import flush_or_conflict
from loumo.core.errors import Conflict, InvalidPayload
from loumo.core.schemas import (
    Currency,
    Id,
    Input,
    Name,
    PatchInput,
    Read,
    Slug,
    UtcDatetime,
    field_problems,
    validate_document,
)
from loumo.zones.models import Zone


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (Id, ["0193a1b2c3d4e5f60718293a4b5c6d7e", "nope", "user_1-x"], ["", "a" * 33, "a b", "é"]),
        (Currency, ["XAF", "EUR"], ["xaf", "XA", "XAFF", "X4F"]),
        (Slug, ["fromages", "creme-fraiche-2"], ["Fromages", "a--b", "-a", "a b", ""]),
        (Name, ["Nord", "  Crème  "], ["", "   ", "a\x00b", "x" * 121]),
    ],
)
def test_field_types(kind: Any, good: list[str], bad: list[str]) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(kind)
    for value in good:
        adapter.validate_python(value)
    for value in bad:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)
    if kind is Name:
        assert adapter.validate_python("  Cre\u0300me  ") == "Crème"  # stripped, NFC


def test_times_without_an_offset_are_utc() -> None:
    adapter: TypeAdapter[object] = TypeAdapter(UtcDatetime)
    naive = adapter.validate_python("2030-01-01T00:00:00")
    assert naive == adapter.validate_python("2030-01-01T00:00:00Z")


class Thing(PatchInput):
    nullable: ClassVar[frozenset[str]] = frozenset({"note"})

    name: Name | None = None
    size: int | None = None
    note: str | None = None


def test_patch_bodies_refuse_null_per_field_and_unknown_fields() -> None:
    assert Thing.model_validate({"note": None}).model_dump(exclude_unset=True) == {"note": None}
    assert Thing.model_validate({}).model_dump(exclude_unset=True) == {}
    with pytest.raises(ValidationError) as caught:
        Thing.model_validate({"name": None, "size": None, "note": None})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("name",), "null_not_allowed"),
        (("size",), "null_not_allowed"),
    ]
    with pytest.raises(ValidationError):
        Thing.model_validate({"colour": "red"})


def test_patch_schemas_show_null_only_where_it_is_taken() -> None:
    properties = Thing.model_json_schema()["properties"]
    assert properties["size"]["type"] == "integer" and "default" not in properties["size"]
    assert {"type": "null"} in properties["note"]["anyOf"]


def test_nullable_must_name_fields() -> None:
    with pytest.raises(TypeError, match="colour"):

        class Wrong(PatchInput):
            nullable: ClassVar[frozenset[str]] = frozenset({"colour"})

            name: str | None = None


Kilos = Annotated[int, Field(ge=0, description="Whole kilograms")]


class ThingCreate(Input):
    name: Name
    size: int = Field(default=1, ge=1, le=10, description="1 when left out")
    weight: Kilos = 0
    note: str | None = None
    code: str


class ThingUpdate(PatchInput):
    patch_of = ThingCreate
    fixed = frozenset({"code"})
    nullable = frozenset({"note"})

    name: Name | None = Field(default=None, description="The new name")


def test_a_patch_takes_the_fields_of_its_create_body() -> None:
    assert list(ThingUpdate.model_fields) == ["name", "size", "weight", "note"]
    body = ThingUpdate.model_validate({"size": 3, "name": " Nord ", "note": None})
    assert body.model_dump(exclude_unset=True) == {"size": 3, "name": "Nord", "note": None}
    with pytest.raises(ValidationError) as caught:
        ThingUpdate.model_validate({"name": None, "size": 11, "weight": -1, "code": "A"})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("name",), "null_not_allowed"),
        (("size",), "less_than_equal"),
        (("weight",), "greater_than_equal"),
        (("code",), "extra_forbidden"),
    ]
    properties = ThingUpdate.model_json_schema()["properties"]
    assert properties["name"]["description"] == "The new name"  # declared: kept as declared
    assert "description" not in properties["size"]  # it speaks of creating
    assert properties["weight"]["description"] == "Whole kilograms"  # part of the type
    assert {"type": "null"} in properties["note"]["anyOf"]
    assert "anyOf" not in properties["size"] and "default" not in properties["size"]


def test_fixed_must_name_fields_of_the_create_body() -> None:
    with pytest.raises(TypeError, match="colour"):

        class Wrong(PatchInput):
            patch_of = ThingCreate
            fixed = frozenset({"colour"})


class Window(Input):
    starts: int
    ends: int

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends <= self.starts:
            raise field_problems(self, {"ends": "ends must be after starts"})
        return self


def test_documents_fail_with_the_same_422_as_bodies() -> None:
    assert validate_document(Window, {"starts": 1, "ends": 2}).ends == 2
    with pytest.raises(InvalidPayload) as caught:
        validate_document(Window, {"starts": 2, "ends": 1})
    error = caught.value
    assert (error.status, error.code) == (422, "validation_error")
    assert error.extra["errors"] == [
        {
            "field": "ends",
            "location": "body",
            "message": "ends must be after starts",
            "type": "value_error",
        }
    ]


class Taken(Conflict):
    code = "taken"


async def test_flush_or_conflict_turns_a_unique_race_into_a_409(app: FastAPI) -> None:
    async with app.state.db.sessionmaker() as session:
        session.add(Zone(name="Twice", delivery_fee=0, currency="XAF"))
        await flush_or_conflict(session, "unused")
        session.add(Zone(name="Twice", delivery_fee=0, currency="XAF"))
        with pytest.raises(Taken) as caught:
            await flush_or_conflict(session, "A zone is named Twice", field="name", error=Taken)
        await session.rollback()
    assert caught.value.status == 409 and caught.value.extra == {"field": "name"}


def test_the_kit_is_the_only_copy() -> None:
    """Every package takes its bases and field types from the kit (no second `Currency`)."""
    from loumo.catalog import schemas as catalog
    from loumo.promotions import schemas as promotions
    from loumo.shops import schemas as shops
    from loumo.zones import schemas as zones

    models: list[type[BaseModel]] = [
        catalog.ProductCreate,
        promotions.PromotionCreate,
        zones.ZoneCreate,
        shops.ShopCreate,
    ]
    for model in models:
        assert issubclass(model, Input)
    for module in (catalog, promotions, zones):
        assert getattr(module, "Currency") is Currency  # noqa: B009
    reads: list[type[BaseModel]] = [
        catalog.CategoryRead,
        catalog.VariantRead,
        promotions.PromotionRead,
        zones.ZoneRead,
        shops.ShopRead,
        shops.StockMovementRead,
    ]
    for model in reads:
        assert issubclass(model, Read) and model.model_config.get("from_attributes")
