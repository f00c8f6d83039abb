"""Accounts mail goes through the Email service's one door, which validates before deferring."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from loumo import accounts
from loumo.notifications.email import EMAIL_JOB, EmailJobPayload, render
from tests.factories import create_user, jobs_named

API = "/api/v1"


def test_no_accounts_module_defers_the_email_job_itself() -> None:
    package = Path(accounts.__file__).parent
    for module in package.glob("*.py"):
        text = module.read_text()
        assert EMAIL_JOB not in text and "EMAIL_JOB" not in text, module.name


async def test_a_reset_mail_is_a_valid_email_job(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await create_user(db, email="grace@example.com", name="Grace Hopper", language="en")
    answer = await client.post(f"{API}/auth/password/forgot", json={"email": user.email})
    assert answer.status_code == 202
    [job] = await jobs_named(db, EMAIL_JOB)
    payload = EmailJobPayload.model_validate(job.payload)
    assert payload.model_dump(mode="json") == job.payload
    assert (payload.to, payload.to_name, payload.template) == (
        "grace@example.com",
        "Grace Hopper",
        "password_reset",
    )
    assert payload.context["code"] in render(payload.template, "en", payload.context).text
