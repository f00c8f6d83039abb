"""Core writes of new rows, one statement at a time or gathered into one round trip.

A Core INSERT skips the unit of work (change tracking, per-object bookkeeping): for the hot
writes of a request (`insert_new`). Inside `writes_together`, `insert_new` and `write` gather
their writes instead of running them, and leaving the block writes them all: on PostgreSQL in
one statement, each a data-modifying `WITH` clause (a table's rows as one JSON parameter,
`json_populate_recordset`), elsewhere one statement each, in order. A request whose work is
many small writes (placing an order: its fulfilments, lines, timeline, notices and jobs) then
pays one round trip for them, not one each. The statements of one `WITH` see the same snapshot
and none sees another's rows; foreign keys are checked at the end of the statement, so a row
and the rows that name it go in together.

A statement that must change a number of rows (`write(..., expect=(rows, error))`) is checked
inside the statement on PostgreSQL (the function `loumo_expect`, migration 0008): another number
fails the whole statement, so nothing of it is written even in autocommit, and `error()` is
raised. One statement being atomic, a block's writes need no transaction of their own there.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Delete,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    literal_column,
)
from sqlalchemy import select as select_
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from loumo.core.db import Base, table_of
from loumo.core.once import rowcount

_GATHERING = "loumo.writes_together"

Expect = tuple[int, Callable[[], Exception]]
"""The rows a statement must change, and the error to raise when it changed another number."""
EXPECT_FAILED = "LM001"  # the SQLSTATE `loumo_expect` raises


def new_row(obj: Base) -> dict[str, Any]:
    """Fill the unset columns of a new ORM object with their Python defaults, as a flush
    would; returns its row (column name → value) for a Core `insert()`. Then `attach` it.

    A column whose default is SQL (or only on the server) is not supported: such an object is
    flushed as usual."""
    row: dict[str, Any] = {}
    for column in obj.__table__.columns:
        key = column.key
        if key not in obj.__dict__:
            default = column.default
            if column.server_default is not None and default is None:
                raise ValueError(f"{column}: a server default; flush this object instead")
            if default is None:
                value = None
            elif default.is_clause_element or default.is_sequence:
                raise ValueError(f"{column}: a SQL default; flush this object instead")
            elif default.is_callable:
                value = default.arg(None)
            else:
                value = default.arg
            setattr(obj, key, value)
        row[column.name] = getattr(obj, key)
    return row


def attach(session: AsyncSession, objects: Iterable[Base]) -> None:
    """Make objects written by a Core insert (see `new_row`) persistent in `session`, every
    column loaded, as if the session had flushed them."""
    for obj in objects:
        make_transient_to_detached(obj)
        session.add(obj)


@dataclass
class _Step:
    """One gathered write: new rows of a table, or a DML statement (and the rows it must
    change)."""

    table: Table | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    statement: Update | Delete | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    expect: Expect | None = None

    def changed(self, rows: int) -> None:
        if self.expect is not None and rows != self.expect[0]:
            raise self.expect[1]()


@dataclass
class _Gathered:
    steps: list[_Step] = field(default_factory=list)
    objects: list[Base] = field(default_factory=list)

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """A table's rows join its first step (a table is inserted into once)."""
        for step in self.steps:
            if step.table is table:
                step.rows.extend(rows)
                return
        self.steps.append(_Step(table=table, rows=rows))


async def insert_new(session: AsyncSession, objects: Sequence[Base]) -> None:
    """Write new objects of one model with one Core INSERT (see `new_row`), then `attach`
    them; inside `writes_together`, when the block ends."""
    if not objects:
        return
    table = table_of(objects[0])
    rows = [new_row(obj) for obj in objects]
    gathered: _Gathered | None = session.info.get(_GATHERING)
    if gathered is not None:
        gathered.insert(table, rows)
        gathered.objects.extend(objects)
        return
    await _run(session, _Step(table=table, rows=rows))
    attach(session, objects)


async def write(
    session: AsyncSession,
    statement: Update | Delete,
    params: Mapping[str, Any],
    *,
    expect: Expect | None = None,
) -> None:
    """Run an UPDATE or DELETE built once (its values bound by `params`); with `expect=(rows,
    error)`, raise `error()` when it changed another number of rows. Inside `writes_together`,
    when the block ends. Its parameter names must differ from those of the other statements of
    the block."""
    step = _Step(statement=statement, params=params, expect=expect)
    gathered: _Gathered | None = session.info.get(_GATHERING)
    if gathered is not None:
        gathered.steps.append(step)
        return
    await _run(session, step)


@asynccontextmanager
async def writes_together(session: AsyncSession) -> AsyncIterator[None]:
    """Gather the block's `insert_new` and `write` calls, and write them in one round trip on
    PostgreSQL (see the module's docstring) when it ends without an error; on an error,
    nothing is written. What the block reads must not depend on what it gathered. A block
    inside another joins it: the outer one writes."""
    if _GATHERING in session.info:
        yield
        return
    gathered = _Gathered()
    session.info[_GATHERING] = gathered
    try:
        yield
    finally:
        del session.info[_GATHERING]
    if session.get_bind().dialect.name == "postgresql":
        await _in_one_statement(session, gathered.steps)
    else:
        await _one_by_one(session, gathered.steps)
    attach(session, gathered.objects)


async def _run(session: AsyncSession, step: _Step) -> None:
    """One write as its own statement (outside a block, or a block on SQLite)."""
    if step.table is not None:
        await session.execute(insert(step.table), step.rows)
    else:
        assert step.statement is not None
        step.changed(rowcount(await session.execute(step.statement, step.params)))


async def _one_by_one(session: AsyncSession, steps: list[_Step]) -> None:
    for step in steps:
        await _run(session, step)


def _rows_parameter(table: Table) -> str:
    return f"rows_of_{table.name}"


def _as_inserted(column: Column[Any], value: Any) -> Any:
    """A JSON column's None is JSON `null`, as a Core insert writes it (the record gives SQL
    NULL), unless the column stores None as NULL."""
    if isinstance(column.type, JSON) and not column.type.none_as_null:
        return func.coalesce(value, literal_column("'null'"))
    return value


_chains: dict[tuple[Any, ...], Select[Any]] = {}
_MAX_CHAINS = 64


def _chain(dialect: Dialect, steps: list[_Step]) -> Select[Any]:
    """The steps as one statement: each a `WITH` clause, then each expected count checked.
    Built once per shape (the tables and statements, in order; a statement is one object built
    once, which the key keeps alive)."""
    shape = tuple(
        ("rows", step.table.name)
        if step.table is not None
        else (step.statement, step.expect is not None)
        for step in steps
    )
    cached = _chains.get(shape)
    if cached is not None:
        return cached
    clauses: list[Any] = []
    counts: list[Any] = []
    for n, step in enumerate(steps):
        if step.table is not None:
            table = step.table
            names = [column.name for column in table.columns]
            rows = func.json_populate_recordset(
                literal_column(f"NULL::{dialect.identifier_preparer.format_table(table)}"),
                bindparam(_rows_parameter(table), type_=JSON),
            ).table_valued(*names)
            values = [_as_inserted(column, rows.c[column.name]) for column in table.columns]
            clauses.append(insert(table).from_select(names, select_(*values)).cte(f"w{n}"))
        else:
            assert step.statement is not None
            statement = step.statement
            if step.expect is None:
                clauses.append(statement.cte(f"w{n}"))
            else:
                clause = statement.returning(literal_column("1")).cte(f"w{n}")
                clauses.append(clause)
                changed = select_(func.count()).select_from(clause).scalar_subquery()
                counts.append(
                    func.loumo_expect(changed, bindparam(f"expect_w{n}", type_=BigInteger), f"w{n}")
                )
    chain: Select[Any] = select_(*(counts or [literal_column("1")])).add_cte(*clauses)
    if len(_chains) < _MAX_CHAINS:
        _chains[shape] = chain
    return chain


async def _in_one_statement(session: AsyncSession, steps: list[_Step]) -> None:
    if not steps:
        return
    params: dict[str, Any] = {}
    for n, step in enumerate(steps):
        if step.table is not None:
            params[_rows_parameter(step.table)] = step.rows
        else:
            if params.keys() & step.params.keys():
                raise ValueError(f"parameter names used twice in one chain: {sorted(step.params)}")
            params.update(step.params)
            if step.expect is not None:
                params[f"expect_w{n}"] = step.expect[0]
    try:
        await session.execute(_chain(session.get_bind().dialect, steps), params)
    except DBAPIError as error:
        failed = re.search(r"loumo_expect w(\d+):", str(error.orig))
        if getattr(error.orig, "sqlstate", None) != EXPECT_FAILED or failed is None:
            raise
        expect = steps[int(failed.group(1))].expect
        if expect is None:
            raise
        raise expect[1]() from None
