"""Answer objects read from rows: `from_row` copies the fields a row has under the same name."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


def _field_names(cls: Any) -> set[str]:
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return set(cls.model_fields)
    return {f.name for f in dataclasses.fields(cls) if f.init}


def from_row(cls: Callable[..., T], row: object, /, **values: Any) -> T:
    """`cls` (a Pydantic model or a dataclass) built from `values`, each other field read
    from the attribute of `row` of the same name."""
    copied = {name: getattr(row, name) for name in _field_names(cls) - values.keys()}
    return cls(**copied, **values)
