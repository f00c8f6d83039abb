"""SQL over JSON columns for both databases: PostgreSQL with jsonb, SQLite with json_each."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement, literal
from sqlalchemy.sql.expression import ColumnClause


class ListContains(ColumnElement[bool]):
    """True where the JSON list in `column` holds `value` (a string)."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, column: ColumnElement[Any] | ColumnClause[Any], value: str) -> None:
        self.column = column
        self.value = literal(value)


@compiles(ListContains, "postgresql")
def _postgresql(element: ListContains, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    value = compiler.process(element.value, **kw)
    return f"(CAST({column} AS JSONB) @> jsonb_build_array(CAST({value} AS TEXT)))"


@compiles(ListContains)
def _sqlite(element: ListContains, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    value = compiler.process(element.value, **kw)
    # Both parts are compiled SQL: a column name and a bound parameter, never caller text.
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"  # noqa: S608


def list_contains(column: Any, value: str) -> ListContains:
    return ListContains(column, value)
