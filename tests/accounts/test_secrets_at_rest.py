"""Issue 10, item 4: one-time codes and link tokens never sit in the job table, the audit log
or the logs; only the mail carries them (they are derived at send time, see `accounts.codes`)."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.accounts.models import OneTimeCode
from tests.accounts.mailbox import Mail, delivered, last_mail

API = "/api/v1"
EMAIL = "ada@example.com"
PASSWORD = "a-sound-passphrase-42"


async def _dump(db: AsyncSession, table: str) -> str:
    rows = (await db.execute(text(f"SELECT * FROM {table}"))).all()
    return "\n".join(repr(tuple(row)) for row in rows)


async def test_a_full_sign_up_and_reset_flow_leaves_no_secret_outside_the_mail(
    client: httpx.AsyncClient,
    app: FastAPI,
    db: AsyncSession,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    account = {"name": "Ada Lovelace", "email": EMAIL, "password": PASSWORD, "language": "en"}
    assert (await client.post(f"{API}/auth/register", json=account)).status_code == 202
    first = await last_mail(app, "verify_email")
    resent = await client.post(f"{API}/auth/resend-verification", json={"email": EMAIL})
    assert resent.status_code == 202
    verify = await last_mail(app, "verify_email")
    verified = await client.post(
        f"{API}/auth/verify-email", json={"email": EMAIL, "code": verify.code}
    )
    assert verified.status_code == 200, verified.text
    forgot = await client.post(f"{API}/auth/password/forgot", json={"email": EMAIL})
    assert forgot.status_code == 202
    reset_mail = await last_mail(app, "password_reset")
    reset = await client.post(
        f"{API}/auth/password/reset",
        json={"token": reset_mail.token, "new_password": "another-sound-phrase-7"},
    )
    assert reset.status_code == 200, reset.text
    mails: list[Mail] = await delivered(app)
    assert [m.template for m in mails] == [
        "verify_email",
        "verify_email",
        "welcome",
        "password_reset",
        "password_changed",
    ]

    secrets = {
        s for mail in (first, verify, reset_mail) for s in (mail.code, mail.token, mail.link)
    }
    logs = caplog.text + "\n".join(repr(r.msg) + repr(r.args) for r in caplog.records)
    out, err = capfd.readouterr()
    logs += out + err
    assert "email_written" in logs and "job_succeeded" in logs  # the capture did capture
    stored = {table: await _dump(db, table) for table in ("jobs", "audit_log")}
    assert "ada@example.com" in stored["jobs"] and "auth.password_reset" in stored["audit_log"]
    for secret in secrets:
        assert secret not in logs, "a code or token was logged"
        for table, dump in stored.items():
            assert secret not in dump, f"a code or token sits in {table}"
    codes = list(await db.scalars(select(OneTimeCode)))
    assert len(codes) == 3 and all(c.used_at is not None for c in codes)
    for secret in secrets:
        assert secret not in await _dump(db, "one_time_codes")
