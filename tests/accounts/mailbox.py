"""Reading the mail accounts send: codes and links are never in a job payload, so tests run the
jobs and read what the file mail backend wrote, as the account holder would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from fastapi import FastAPI

from loumo.jobs.runner import run_pending

_LINK = re.compile(r"https?://\S+\?token=[A-Za-z0-9_\-%]+")
# the six digits after the word "code" (the name above may hold digits: "User 083597f85e")
_CODE = re.compile(r"\bcode\b\D{0,12}?\b(\d{6})\b", re.IGNORECASE)


@dataclass(frozen=True)
class Mail:
    to: str
    template: str
    subject: str
    text: str

    @property
    def link(self) -> str:
        found = _LINK.search(self.text)
        assert found, f"no link in the {self.template} mail"
        return found.group(0)

    @property
    def token(self) -> str:
        return parse_qs(urlparse(self.link).query)["token"][0]

    @property
    def code(self) -> str:
        found = _CODE.search(self.text)
        assert found, f"no code in the {self.template} mail"
        return found.group(1)


def _read(path: Path) -> Mail:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return Mail(
        to=message["To"].addresses[0].addr_spec,
        template=str(message["X-Loumo-Template"]),
        subject=str(message["Subject"]),
        text=body.get_content(),
    )


def empty(app: FastAPI) -> None:
    directory: Path = app.state.settings.mail_dir
    for path in directory.glob("*.eml"):
        path.unlink()


async def delivered(app: FastAPI) -> list[Mail]:
    """Run the due jobs, then every message in the mail directory, oldest first."""
    await run_pending(app.state.db, app.state.settings)
    directory: Path = app.state.settings.mail_dir
    paths = sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [_read(p) for p in paths]


async def last_mail(app: FastAPI, template: str, to: str | None = None) -> Mail:
    mails = [
        m
        for m in await delivered(app)
        if m.template == template and (to is None or m.to == to.lower())
    ]
    assert mails, f"no {template} mail was sent"
    return mails[-1]
