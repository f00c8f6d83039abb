"""The `accounts.purge` periodic job: what dead sign-ins, tokens and codes it deletes and keeps."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import AuthSession, OneTimeCode, RefreshToken, User
from loumo.accounts.sessions import REFRESH_TOKEN_TTL, PurgeCounts, purge_auth_records
from loumo.accounts.tasks import PURGE_JOB
from loumo.core.db import utcnow
from loumo.core.ids import new_id
from loumo.core.settings import Settings
from loumo.jobs.models import JobStatus
from loumo.jobs.outbox import defer
from loumo.jobs.registry import schedules
from loumo.jobs.runner import run_pending
from tests.factories import auth_headers, jobs_named

RETENTION = timedelta(days=30)


async def _arrange(db: AsyncSession, user: User) -> dict[str, str]:
    """Rows on both sides of every cutoff; returns their ids by name."""
    now = utcnow()
    day = timedelta(days=1)
    sessions = {
        "revoked_long_ago": AuthSession(user_id=user.id, revoked_at=now - RETENTION - day),
        "revoked_lately": AuthSession(user_id=user.id, revoked_at=now - day),
        "expired_long_ago": AuthSession(
            user_id=user.id, last_used_at=now - REFRESH_TOKEN_TTL - RETENTION - day
        ),
        "expired_lately": AuthSession(user_id=user.id, last_used_at=now - REFRESH_TOKEN_TTL - day),
        "live": AuthSession(user_id=user.id, last_used_at=now),
    }
    db.add_all(sessions.values())
    await db.flush()

    def token(session: str, **values: object) -> RefreshToken:
        return RefreshToken(
            session_id=sessions[session].id, token_hash=new_id() + new_id(), **values
        )

    tokens = {
        "of_revoked_session": token("revoked_long_ago", expires_at=now + day),
        "of_expired_session": token("expired_long_ago", expires_at=now - RETENTION),
        "expired_long_ago": token("live", expires_at=now - RETENTION - day),
        "expired_lately": token("live", expires_at=now - day),
        "spent_lately": token("live", expires_at=now + 20 * day, used_at=now - 10 * day),
        "current": token("live", expires_at=now + 30 * day),
    }

    def code(**values: object) -> OneTimeCode:
        return OneTimeCode(
            user_id=user.id, purpose="verify_email", code_hash="x", token_hash=new_id(), **values
        )

    codes = {
        "expired_long_ago": code(expires_at=now - RETENTION - day),
        "used_long_ago": code(expires_at=now + day, used_at=now - RETENTION - day),
        "used_lately": code(expires_at=now - day, used_at=now - 2 * day),
        "pending": code(expires_at=now + day),
    }
    db.add_all([*tokens.values(), *codes.values()])
    await db.commit()
    ids = {f"session.{k}": v.id for k, v in sessions.items()}
    ids |= {f"token.{k}": v.id for k, v in tokens.items()}
    return ids | {f"code.{k}": v.id for k, v in codes.items()}


async def _remaining(db: AsyncSession, ids: dict[str, str]) -> set[str]:
    by_id = {v: k for k, v in ids.items()}
    found: set[str] = set()
    for model in (AuthSession, RefreshToken, OneTimeCode):
        rows = await db.scalars(select(model.id).execution_options(populate_existing=True))
        found |= {by_id[i] for i in rows if i in by_id}
    return found


KEPT = {
    "session.revoked_lately",
    "session.expired_lately",
    "session.live",
    "token.expired_lately",
    "token.spent_lately",
    "token.current",
    "code.used_lately",
    "code.pending",
}


async def test_purge_deletes_only_what_is_dead_for_longer_than_the_retention(
    db: AsyncSession, customer: User
) -> None:
    ids = await _arrange(db, customer)
    counts = await purge_auth_records(db, retention=RETENTION)
    await db.commit()
    assert counts == PurgeCounts(sessions=2, refresh_tokens=3, codes=2)
    assert await _remaining(db, ids) == KEPT

    again = await purge_auth_records(db, retention=RETENTION)
    assert again == PurgeCounts(sessions=0, refresh_tokens=0, codes=0)
    # With a shorter retention, what died lately goes too; live rows always stay.
    await purge_auth_records(db, retention=timedelta(hours=1))
    await db.commit()
    assert await _remaining(db, ids) == {
        "session.live",
        "token.spent_lately",
        "token.current",
        "code.pending",
    }


async def test_the_periodic_job_purges_with_the_configured_retention(
    client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, settings: Settings, customer: User
) -> None:
    assert PURGE_JOB in {s.name for s in schedules()}
    ids = await _arrange(db, customer)
    headers = await auth_headers(app, customer)  # a sign-in opened now
    await defer(db, PURGE_JOB, {"period_start": utcnow().isoformat()})
    await db.commit()
    await run_pending(db, settings.model_copy(update={"auth_retention_days": 30}))

    (run,) = await jobs_named(db, PURGE_JOB)
    assert run.status == JobStatus.SUCCEEDED
    assert await _remaining(db, ids) == KEPT
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
