"""A read built from a row (`core.rows.from_row`) and the package's data files
(`core.data_files.read_data`)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from pydantic import BaseModel, ValidationError

from loumo.core.data_files import read_data
from loumo.core.rows import from_row


class Answer(BaseModel):
    id: str
    name: str
    total: int


@dataclass(frozen=True)
class Plain:
    id: str
    name: str
    total: int


@pytest.mark.parametrize("cls", [Answer, Plain])
def test_from_row_copies_the_same_named_fields_and_takes_the_given_ones(cls: type) -> None:
    row = SimpleNamespace(id="a1", name="Akwa", total=3, other="ignored")
    assert from_row(cls, row) == cls(id="a1", name="Akwa", total=3)
    assert from_row(cls, row, total=9) == cls(id="a1", name="Akwa", total=9)


def test_from_row_validates_a_model_and_needs_every_field() -> None:
    with pytest.raises(ValidationError):
        from_row(Answer, SimpleNamespace(id="a1", name="Akwa", total="many"))
    with pytest.raises(AttributeError):
        from_row(Plain, SimpleNamespace(id="a1", name="Akwa"))


def test_read_data_reads_json_and_toml_by_name() -> None:
    tree = read_data("loumo.seed", "catalog_tree.json")
    assert tree[0]["leaves"][0]["items"][0] == ["Mangues", "Mangoes", 900]
    notices = read_data("loumo.orders", "notices.toml")
    assert notices["customer"]["received"]["en"] == [
        "Order {ref} received",
        "Total: {total}. {next_en}",
    ]
