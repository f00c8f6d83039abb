"""Database layer: engine, sessions and the one-unit-of-work-per-request dependency."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import asyncpg
import orjson
import structlog
from fastapi import Depends, Request
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Index,
    MetaData,
    Select,
    Table,
    event,
    exc,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, ExceptionContext, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    mapped_column,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import ConnectionPoolEntry, Pool, PoolProxiedConnection

from loumo.core.errors import AppError, Conflict, DatabaseUnavailable
from loumo.core.reads import Reader

S = TypeVar("S", bound=Select[Any])
logger = structlog.get_logger("loumo.db")

# What connecting raises when the server is not there (`OSError`: refused, unreachable, timed
# out) or is there but takes no connection now (asyncpg's errors: starting up, shutting down).
_UNREACHABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones; every one is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every model; constraint names follow one convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def partial_unique_index(name: str, *columns: str, where: str) -> Index:
    """A unique index over the rows that match `where`, an SQL condition PostgreSQL and SQLite
    both read: one copy of the condition for the two dialects."""
    return Index(
        name, *columns, unique=True, postgresql_where=text(where), sqlite_where=text(where)
    )


def engine_of(session: AsyncSession) -> AsyncEngine:
    """The engine a session draws its connections from: for work that must run on a connection
    of its own, outside the session's transaction."""
    bind = session.bind
    if isinstance(bind, AsyncConnection):
        return bind.engine
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the session is bound to no engine")
    return bind


async def autocommit(session: AsyncSession) -> None:
    """Run the session's next statements, until its next commit, each in a transaction of its
    own: no BEGIN and COMMIT round trips for a phase that only reads, or writes one statement
    that must be committed at once (an idempotency key's claim). Nothing when a transaction
    has begun already. The session's commit then only gives its connection back, whose
    isolation the pool restores, and the next statement begins a transaction as usual.
    PostgreSQL only: SQLite has no round trips to save, and its statements stay in the
    session's transaction (a block of `core.writes.writes_together` is atomic there by it)."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def in_autocommit(session: AsyncSession) -> bool:
    """Whether the session runs its statements each in a transaction of its own (see
    `autocommit`) until its next commit."""
    if not session.in_transaction():
        return False
    connection = (await session.connection()).sync_connection
    options = connection.get_execution_options() if connection is not None else {}
    return bool(options.get("isolation_level") == "AUTOCOMMIT")


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """`INSERT` in the session's dialect (SQLite, else PostgreSQL), for its `ON CONFLICT`."""
    return insert_in(session.get_bind().dialect.name, table)


def insert_in(dialect: str, table: Any) -> Any:
    """`INSERT` in the dialect named (for a statement built once per dialect)."""
    return (sqlite_insert if dialect == "sqlite" else pg_insert)(table)


def insert_ignoring_conflicts(session: AsyncSession, table: Any, **conflict: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` in the session's dialect (SQLite, else PostgreSQL).

    `conflict` goes to `on_conflict_do_nothing` (e.g. `index_elements=["key"]`).
    """
    return dialect_insert(session, table).on_conflict_do_nothing(**conflict)


def table_of(model: type[Base] | Base) -> Table:
    """A model's table, for Core statements (no ORM bookkeeping) on it."""
    return cast(Table, model.__table__)


async def flush_or_conflict(
    session: AsyncSession,
    message: str,
    *,
    field: str | None = None,
    error: type[Conflict] = Conflict,
) -> None:
    """Flush; a unique-constraint race that the checks before it could not see becomes a 409.

    `error` is the `Conflict` subclass to raise (with `message`, and `field` when given).
    """
    try:
        await session.flush()
    except IntegrityError:
        raise (error(message) if field is None else error(message, field=field)) from None


async def is_taken(
    session: AsyncSession,
    column: InstrumentedAttribute[Any],
    value: Any,
    *,
    exclude_id: str | None = None,
) -> bool:
    """Whether a row other than `exclude_id` already holds `value` in the unique `column`: the
    check that gives a clear 409 first (`flush_or_conflict` still catches a race)."""
    stmt = select(column).where(column == value)
    if exclude_id is not None:
        stmt = stmt.where(column.class_.id != exclude_id)
    return await session.scalar(stmt.limit(1)) is not None


async def save_changes(
    session: AsyncSession,
    row: Any,
    changes: Mapping[str, Any],
    conflict: str,
    *,
    field: str | None = None,
) -> None:
    """Set `changes` (the fields a PATCH gave) on `row`, flush (a unique-constraint race is a
    409 with `conflict`, see `flush_or_conflict`) and reload the row."""
    for key, value in changes.items():
        setattr(row, key, value)
    await flush_or_conflict(session, conflict, field=field)
    await session.refresh(row)


def visible(
    stmt: S,
    *active: ColumnElement[bool] | InstrumentedAttribute[bool],
    include_inactive: bool,
) -> S:
    """`stmt` limited to active rows (`active` conditions), unless the caller sees inactive ones.

    Staff holding a domain's write permission see inactive rows; the public does not (see
    `loumo.core.auth.sees_inactive`).
    """
    return stmt if include_inactive else stmt.where(*active)


async def locked_value(session: AsyncSession, owner: Any, name: str) -> Any:
    """Lock `owner`'s row (a row lock on PostgreSQL, the write lock on SQLite) and read its
    attribute `name` as it is now (e.g. an image key, so that concurrent image changes count
    media references from what is really there, never from a stale copy). The object learns
    that value too."""
    model = type(owner)
    column = getattr(model, name)
    result = await session.execute(
        update(model)
        .where(model.id == owner.id)
        .values({column: column})
        .returning(column)
        .execution_options(synchronize_session=False)
    )
    value = result.scalar_one()
    set_committed_value(owner, name, value)
    return value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# A pooled connection idle for longer than this is pinged before use. Pinging on every checkout
# (`pool_pre_ping`) costs a round trip per request (three outside autocommit); a connection in
# steady use needs none, and one that breaks mid-use is invalidated with its pool.
IDLE_PING_SECONDS = 10.0


def _mark_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(
    dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    last = record.info.get("checked_in_at")
    if last is None or time.monotonic() - last < IDLE_PING_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as error:
        # The pool discards this connection and checks out (or opens) another one.
        raise exc.DisconnectionError(f"stale pooled connection: {error}") from error


def _connect_or_unavailable(
    dialect: Any, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Open a connection; a server that cannot be reached (refused, timed out, starting up or
    shutting down, out of connection slots) is `DatabaseUnavailable`, a clean 503, instead of
    the driver's raw exception. The pool opens new connections as soon as it answers again."""
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as error:
        # The dialect wraps some of the driver's errors: look at what it wrapped too.
        if not isinstance(error, _UNREACHABLE) and not isinstance(error.__cause__, _UNREACHABLE):
            raise
        logger.warning("db_unreachable", error=f"{type(error).__name__}: {error}")
        raise DatabaseUnavailable() from error


def _no_answer_is_lost(context: ExceptionContext) -> exc.DBAPIError | None:
    """A statement, BEGIN or COMMIT that the server did not answer within the driver's command
    timeout (a hanging server) raises the driver's bare `TimeoutError`, which SQLAlchemy passes
    through as it is: a 500. The connection is left mid-operation and cannot serve again, so it
    is taken for lost like a broken one: invalidated (this one, not the pool) and reported as a
    `DBAPIError` with `connection_invalidated`, a 503 to retry (`loumo.core.errors`)."""
    if not isinstance(context.original_exception, TimeoutError):
        return None
    context.is_disconnect = True
    context.invalidate_pool_on_disconnect = False
    return exc.OperationalError(
        context.statement,
        context.parameters,
        context.original_exception,
        connection_invalidated=True,
    )


# Commits in this process, counted: a copy of a read taken while the count was N is current
# only while it still is N (`loumo.core.http_cache.RecentReads`). Counted when a transaction
# is about to commit and again when its connection goes back to the pool, after the COMMIT
# (so a read that ran between the two is not taken for current), on every engine.
_commits = 0
_COMMITTED = "loumo_committed"


def commit_count() -> int:
    """How many transactions this process has committed so far (see above)."""
    return _commits


def _count_commit(connection: Any) -> None:
    global _commits
    _commits += 1
    connection.info[_COMMITTED] = True


def _count_committed(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    global _commits
    if record.info.pop(_COMMITTED, False):
        _commits += 1


event.listen(Engine, "commit", _count_commit)
event.listen(Pool, "checkin", _count_committed)


# How long a request waits for a pooled connection before it is answered 503 (`core.errors`).
POOL_TIMEOUT_SECONDS = 30.0
# How long a statement waits for PostgreSQL's answer (`DB_COMMAND_TIMEOUT` in the app and worker).
COMMAND_TIMEOUT_SECONDS = 30.0


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_loads(value: Any) -> Any:
    if not isinstance(value, str | bytes):  # as json.loads: SQLite's JSON type keeps a number
        raise TypeError(f"JSON text expected, not {type(value).__name__}")
    return orjson.loads(value)


# JSON columns (job payloads, stored answers, snapshots) written and read with orjson: the
# standard library's encoder was ~2% of a checkout's CPU.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": _json_loads}


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    max_overflow: int = 0,
    pool_timeout: float = POOL_TIMEOUT_SECONDS,
    command_timeout: float = COMMAND_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """Build an async engine; SQLite gets WAL, foreign keys and a busy timeout.

    Both engines keep a bounded pool (`pool_size` + `max_overflow` connections): a request
    that finds none free within `pool_timeout` raises `sqlalchemy.exc.TimeoutError`, a 503.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            pool = {
                "pool_size": pool_size,
                "max_overflow": max_overflow,
                "pool_timeout": pool_timeout,
            }
        engine = create_async_engine(url, connect_args={"timeout": 30}, **JSON_CODEC, **pool)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url,
        **JSON_CODEC,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=1800,
        connect_args={"timeout": 5, "command_timeout": command_timeout},
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    event.listen(engine.sync_engine, "handle_error", _no_answer_is_lost)
    event.listen(engine.sync_engine.pool, "checkin", _mark_checkin)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


READ_ONLY_OPTION = "loumo_read_only"


class ReadOnlyRequestError(RuntimeError):
    """A write was attempted while serving a GET or HEAD request."""


def _refuse_writes(
    _conn: Any,
    _cursor: Any,
    _statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    """Safe requests read in autocommit (no BEGIN/COMMIT round trips; under READ COMMITTED each
    statement sees its own snapshot inside a transaction too, so reads lose nothing). A write
    there would commit statement by statement, so it is refused before it reaches the database:
    GET and HEAD are safe methods, a route that writes answers another one."""
    writes = context is not None and (context.isinsert or context.isupdate or context.isdelete)
    if writes and context.execution_options.get(READ_ONLY_OPTION):
        raise ReadOnlyRequestError("GET and HEAD requests do not write")


class Database:
    """An engine and its session factory, owned by the app (or a worker) for its lifetime."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        max_overflow: int = 0,
        pool_timeout: float = POOL_TIMEOUT_SECONDS,
        command_timeout: float = COMMAND_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            command_timeout=command_timeout,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.engine.sync_engine, "before_cursor_execute", _refuse_writes)
        self.read_engine = self.engine.execution_options(
            isolation_level="AUTOCOMMIT", **{READ_ONLY_OPTION: True}
        )
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.reader = Reader(self)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


SAFE_METHODS = frozenset({"GET", "HEAD"})


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit once when the route returns, roll back on error.

    Declared with `scope="function"` so that the commit runs before the response is sent: a
    failing commit becomes an error response, never a 2xx. An `AppError` with `keep_changes`
    (a wrong code's attempt counted, a failed login audited) commits what was flushed and is
    then answered as usual. Safe methods get a read-only autocommit session that refuses
    writes: no transaction to open or commit.
    """
    db: Database = request.app.state.db
    if request.method in SAFE_METHODS:
        async with db.read_sessionmaker() as session:
            yield session
        return
    async with db.sessionmaker() as session:
        try:
            try:
                yield session
            except AppError as error:
                if error.keep_changes:
                    await session.commit()
                raise
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
