"""The migrations build exactly the schema the models describe, and undo it cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from loumo.core.db import create_engine
from loumo.core.migrations import downgrade, head_revisions, upgrade_async
from loumo.models import metadata
from tests.conftest import empty_database


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def _schema_diff(database_url: str) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff)
    finally:
        await engine.dispose()


async def _tables(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_models_and_migrations_agree(database_url: str) -> None:
    diff = await _schema_diff(database_url)
    assert diff == [], f"models and migrations disagree; write a migration: {diff}"


async def test_downgrade_to_base_then_upgrade_again(tmp_path: Path) -> None:
    async with empty_database(tmp_path) as url:
        await upgrade_async(url)
        assert metadata.tables.keys() <= await _tables(url)

        await asyncio.to_thread(downgrade, url, "base")  # Alembic runs its own event loop
        assert await _tables(url) <= {"alembic_version"}

        await upgrade_async(url)
        diff = await _schema_diff(url)
        assert diff == [], f"the round trip left models and migrations disagreeing: {diff}"


def test_single_head() -> None:
    assert len(head_revisions()) == 1
