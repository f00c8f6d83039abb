"""Accounts mail goes through the Email service's one door, which validates before deferring."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loumo import accounts
from loumo.accounts.codes import CODE_MAIL_JOB, derive_secrets
from loumo.accounts.models import OneTimeCode
from loumo.notifications.email import EMAIL_JOB
from tests.accounts.mailbox import delivered, last_mail
from tests.factories import create_user, jobs_named

API = "/api/v1"


def test_no_accounts_module_defers_the_email_job_itself() -> None:
    package = Path(accounts.__file__).parent
    for module in package.glob("*.py"):
        text = module.read_text()
        assert EMAIL_JOB not in text and "EMAIL_JOB" not in text, module.name


async def test_a_reset_mail_is_deferred_by_reference_and_built_at_send_time(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI
) -> None:
    user = await create_user(db, email="grace@example.com", name="Grace Hopper", language="en")
    answer = await client.post(f"{API}/auth/password/forgot", json={"email": user.email})
    assert answer.status_code == 202
    assert await jobs_named(db, EMAIL_JOB) == []
    [job] = await jobs_named(db, CODE_MAIL_JOB)
    code = await db.scalar(select(OneTimeCode))
    assert code is not None
    assert job.payload == {"code_id": code.id, "template": "password_reset"}
    mail = await last_mail(app, "password_reset")
    assert (mail.to, mail.subject) == ("grace@example.com", "Reset your Loumo password")
    assert "Hello Grace Hopper" in mail.text and mail.code in mail.text
    assert mail.link.startswith("http://127.0.0.1:8000/reset-password?token=")


async def test_no_mail_for_a_code_that_died_before_its_job_ran(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI
) -> None:
    user = await create_user(db, email="grace@example.com", name="Grace Hopper", language="en")
    for _ in range(2):  # the second code retires the first before either mail is sent
        answer = await client.post(f"{API}/auth/password/forgot", json={"email": user.email})
        assert answer.status_code == 202
    assert len(await jobs_named(db, CODE_MAIL_JOB)) == 2
    [mail] = await delivered(app)
    code = await db.scalar(select(OneTimeCode).where(OneTimeCode.used_at.is_(None)))
    assert code is not None and mail.code == derive_secrets(app.state.secret_key, code.id)[0]
