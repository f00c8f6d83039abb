"""Runs the seeds of every package in one transaction (demo users are added by `accounts`)."""

from __future__ import annotations

from loumo.core.db import Database
from loumo.seed.catalog import seed_catalog, seed_scale


async def run_seed(database_url: str, *, demo: bool, scale: int | None) -> list[str]:
    """Seed and commit; returns one line of summary per step."""
    database = Database(database_url)
    lines: list[str] = []
    try:
        async with database.sessionmaker() as session:
            if demo:
                made = await seed_catalog(session)
                lines.append(f"demo catalog: {made} products created")
            if scale:
                made = await seed_scale(session, scale)
                lines.append(f"scale: {made} products created (3 variants each, 5 shops)")
            await session.commit()
    finally:
        await database.dispose()
    return lines
