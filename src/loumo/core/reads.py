"""Hot public reads without a unit of work: `Reader` (see its docstring) and its dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import Select, exc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import greenlet_spawn

if TYPE_CHECKING:
    from loumo.core.db import Database


REQUIRED = object()


class Reader:
    """Hot public reads (a product, a page of products) without a unit of work.

    No session: a pooled connection is checked out only for the statements of one read, in
    autocommit, and given back at once, so that a request holds a connection for a round trip
    rather than for its whole life. On PostgreSQL each statement is compiled once to its SQL
    text and run on the asyncpg connection itself (its own prepared-statement cache), skipping
    SQLAlchemy's per-execution work, which costs more than the round trip; elsewhere (SQLite)
    it runs through SQLAlchemy on the read-only engine. Rows come back as tuples in the order
    of the statement's columns either way. Only for reads whose bound values need no
    conversion (strings, numbers, lists of strings).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self.dialect: str = db.engine.dialect.name
        self._native = self.dialect == "postgresql"
        self._compiled: dict[int, tuple[Select[Any], str, dict[str, Any]]] = {}

    def _sql(self, stmt: Select[Any]) -> tuple[str, dict[str, Any]]:
        """The SQL text of `stmt` and its parameters in order: `REQUIRED` for those each call
        gives by name, the value of the others (the literals the statement holds itself)."""
        found = self._compiled.get(id(stmt))
        if found is None or found[0] is not stmt:
            dialect = self._db.engine.dialect
            binds = stmt.compile(dialect=dialect).binds
            required = {name for name, bind in binds.items() if bind.required}
            # Literals compiled late (e.g. a separator) are rendered into the text.
            compiled = stmt.params(dict.fromkeys(required)).compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True}
            )
            defaults = {
                name: REQUIRED if name in required else compiled.binds[name].effective_value
                for name in compiled.positiontup or ()
            }
            found = (stmt, compiled.string, defaults)
            self._compiled[id(stmt)] = found
        return found[1], found[2]

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[ReadConnection]:
        """One pooled connection for a few statements: `async with reader.connection() as c`."""
        if not self._native:
            async with self._db.read_engine.connect() as connection:
                yield ReadConnection(self, connection, None)
            return
        raw = await self._db.engine.raw_connection()
        reads = ReadConnection(self, None, raw.driver_connection)
        try:
            yield reads
        finally:
            if reads.lost or raw.driver_connection is None or raw.driver_connection.is_closed():
                raw.invalidate()  # lost mid-read: the pool opens a new one next time
            # Returning it may close it (pool overflow), which awaits: inside a greenlet.
            await greenlet_spawn(raw.close)

    async def rows(self, stmt: Select[Any], params: Mapping[str, Any]) -> Sequence[Any]:
        """The rows of one statement, on a connection held for that statement only."""
        async with self.connection() as connection:
            return await connection.rows(stmt, params)


class ReadConnection:
    """A connection checked out by `Reader.connection()`."""

    def __init__(self, reader: Reader, connection: Any, native: Any) -> None:
        self._reader = reader
        self._connection = connection
        self._native = native
        self.dialect = reader.dialect
        # Statements run on the driver itself pass no engine event (`before_cursor_execute`).
        self.native = native is not None
        self.lost = False

    async def rows(self, stmt: Select[Any], params: Mapping[str, Any]) -> Sequence[Any]:
        if self._native is None:
            return (await self._connection.execute(stmt, dict(params))).all()  # type: ignore[no-any-return]
        sql, defaults = self._reader._sql(stmt)
        values = [
            params[name] if default is REQUIRED else default for name, default in defaults.items()
        ]
        try:
            return await self._native.fetch(sql, *values)  # type: ignore[no-any-return]
        except (
            OSError,
            asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError,
            asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
            # The connection's protocol left mid-operation when the server went away ("cannot
            # switch to state ...; another operation is in progress"): it is lost as well.
            asyncpg.InternalClientError,
        ) as error:
            # As SQLAlchemy reports a lost connection (invalidated: a 503 to retry, see
            # `loumo.core.errors`); `Reader.connection` drops it from the pool.
            self.lost = True
            raise exc.OperationalError(sql, values, error, connection_invalidated=True) from error
        except asyncpg.PostgresError as error:
            raise exc.DBAPIError(sql, values, error) from error


class SessionReads:
    """`Reader`'s `rows()` on a unit of work's session: the reads that answer a write must see
    its own changes (same connection, same transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.dialect: str = session.get_bind().dialect.name

    async def rows(self, stmt: Select[Any], params: Mapping[str, Any]) -> Sequence[Any]:
        connection = await self._session.connection()
        rows: Sequence[Any] = (await connection.execute(stmt, dict(params))).all()
        return rows


async def _reader(request: Request) -> Reader:
    db: Database = request.app.state.db
    return db.reader


ReaderDep = Annotated[Reader, Depends(_reader)]
"""The dependency of a hot public read (see `Reader`); every other route takes `SessionDep`."""
