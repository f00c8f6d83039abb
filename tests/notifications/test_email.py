"""The Email service over a real SMTP server, the file backend, and header safety."""

from __future__ import annotations

import ssl
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.db import Database
from loumo.core.settings import Settings
from loumo.jobs.models import Job, JobStatus
from loumo.jobs.runner import run_pending
from loumo.main import create_app
from loumo.notifications import email
from loumo.notifications.email import (
    EMAIL_JOB,
    LANGUAGES,
    TEMPLATES,
    EmailError,
    check_context,
    render,
    required_names,
    send_email,
)
from tests.notifications.conftest import SMTPServer

SAMPLE_CONTEXT: dict[str, Any] = {
    "name": "Awa",
    "code": "482913",
    "link": "https://loumo.example/x?token=abc&lang=fr",
    "order_reference": "LM-2026-0042",
    "total": 12500,
    "amount": 12500,
    "currency": "XAF",
    "shop_name": "Marché Mvog-Mbi",
    "product_name": "Riz parfumé 5 kg",
    "available": 3,
    "threshold": 5,
    "lines": [{"name": "Riz parfumé 5 kg", "quantity": 2, "unit_price": 5000, "line_total": 10000}],
    "subtotal": 10000,
    "discount": 0,
    "delivery_fee": 2500,
    "payment_method": "mobile_money",
    "reason": "",
    "action": "prepare",
    "address": "Rue 1, Bastos",
    "scheduled_at": "2026-12-06 10:00 UTC",
}


def smtp_settings(settings: Settings, port: int, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "email_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_tls": "none",
            "smtp_timeout": 5.0,
            **extra,
        }
    )


def parts(message: object) -> tuple[str, str]:
    from email.message import EmailMessage

    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_a_welcome_mail_arrives_with_both_parts_in_the_users_language(
    db: AsyncSession, settings: Settings, smtp_server: SMTPServer, language: str
) -> None:
    smtp_server.start()
    job = await send_email(
        db,
        to="awa@example.com",
        to_name="Awa Mbarga",
        template="welcome",
        language=language,
        context={"name": "Awa"},
    )
    job_id = job.id
    await db.commit()
    assert await run_pending(db, smtp_settings(settings, smtp_server.port)) == 1

    [message] = await smtp_server.inbox.wait_for(1)
    text, html = parts(message)
    greeting = {"en": "Welcome to Loumo", "fr": "Bienvenue sur Loumo"}[language]
    assert message["Subject"] == f"{greeting}, Awa"
    assert greeting in text and greeting in html and "<html" not in text
    assert f'lang="{language}"' in html
    assert message["Content-Language"] == language
    assert message["To"].addresses[0].display_name == "Awa Mbarga"
    assert smtp_server.inbox.envelopes[0][1] == ["awa@example.com"]
    assert message["Message-ID"] == f"<job.{job_id}@loumo.local>"


async def test_sends_are_retried_while_smtp_is_down_and_all_arrive_once_it_is_back(
    settings: Settings, smtp_server: SMTPServer, app: FastAPI
) -> None:
    live = smtp_settings(
        settings,
        smtp_server.port,
        jobs_in_process=True,
        jobs_poll_interval=0.05,
        jobs_retry_base_seconds=0.05,
        jobs_retry_max_seconds=0.3,
        jobs_concurrency=2,
    )
    worker_app = create_app(live)  # an API process whose embedded dispatcher runs the jobs
    async with worker_app.router.lifespan_context(worker_app):
        database: Database = worker_app.state.db
        async with database.sessionmaker() as session:
            for n in range(3):
                await send_email(
                    session,
                    to=f"user{n}@example.com",
                    template="password_changed",
                    language="en",
                    context={"name": f"User {n}"},
                )
            await session.commit()

        async def retried() -> bool:
            async with database.sessionmaker() as session:
                jobs = list(await session.scalars(select(Job).where(Job.name == EMAIL_JOB)))
            return len(jobs) == 3 and all(
                j.attempts >= 2 and j.status == JobStatus.PENDING for j in jobs
            )

        from tests.jobs.conftest import eventually

        await eventually(retried, what="every send to fail and be retried")
        assert smtp_server.inbox.messages == []
        smtp_server.start()
        messages = await smtp_server.inbox.wait_for(3)

        async def all_succeeded() -> bool:
            async with database.sessionmaker() as session:
                jobs = list(await session.scalars(select(Job).where(Job.name == EMAIL_JOB)))
            return all(j.status == JobStatus.SUCCEEDED for j in jobs)

        await eventually(all_succeeded, what="every send job to succeed")
    recipients = sorted(str(m["To"]) for m in messages)
    assert recipients == [f"user{n}@example.com" for n in range(3)]
    assert len({m["Message-ID"] for m in messages}) == 3


async def test_nothing_is_sent_for_a_rolled_back_transaction(
    db: AsyncSession, settings: Settings, smtp_server: SMTPServer
) -> None:
    smtp_server.start()
    await send_email(
        db, to="ghost@example.com", template="welcome", language="fr", context={"name": "G"}
    )
    await db.rollback()
    assert await run_pending(db, smtp_settings(settings, smtp_server.port)) == 0
    assert await db.scalar(select(Job.id)) is None
    assert smtp_server.inbox.messages == []


async def test_the_file_backend_writes_one_eml_per_message_and_a_retry_rewrites_it(
    db: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    file_settings = settings.model_copy(update={"mail_dir": tmp_path / "mail"})
    job = await send_email(
        db,
        to="awa@example.com",
        template="verify_email",
        language="fr",
        context={"name": "Awa", "code": "123456", "link": "https://loumo.example/v?t=1"},
    )
    job_id = job.id
    await db.commit()
    await run_pending(db, file_settings)
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Message-ID"] == f"<job.{job_id}@loumo.local>"
    assert "123456" in message["Subject"] and "Votre code" in message["Subject"]

    # Delivered again (say, after a crash): same Message-ID, same file, no second message.
    await db.execute(update(Job).values(status=JobStatus.PENDING))
    await db.commit()
    await run_pending(db, file_settings)
    assert [p.name for p in (tmp_path / "mail").glob("*.eml")] == [eml.name]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_renders_in_both_languages(template: str, language: str) -> None:
    rendered = render(template, language, dict(SAMPLE_CONTEXT))
    needs = required_names(template, language)
    assert rendered.subject and "\n" not in rendered.subject
    if "name" in needs:  # a mail to a pending address shows no name: a stranger may have chosen it
        assert "Awa" in rendered.text and "Awa" in rendered.html
    if "link" in needs:
        assert SAMPLE_CONTEXT["link"] in rendered.text
        assert "token=abc&amp;lang=fr" in rendered.html  # escaped in HTML
    if "amount" in needs or "total" in needs:
        assert "12" in rendered.text and "500 XAF" in rendered.text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_the_required_names_are_what_rendering_needs(template: str, language: str) -> None:
    needs = required_names(template, language)
    provided = {"language", "button", "item_list", "range"}  # by render, macros.html, Jinja
    assert provided.isdisjoint(needs)
    exactly = {name: SAMPLE_CONTEXT[name] for name in needs}
    check_context(template, language, exactly)
    render(template, language, exactly)  # the optional names (`is defined`) may be left out
    for name in needs:
        lacking = {k: v for k, v in exactly.items() if k != name}
        with pytest.raises(EmailError, match=rf"needs \['{name}'\]"):
            check_context(template, language, lacking)
        with pytest.raises(EmailError, match=rf"needs \['{name}'\]"):
            render(template, language, lacking)


def test_the_order_receipt_needs_its_totals_and_optional_names_stay_optional() -> None:
    assert required_names("order_received", "fr") == {
        "name", "order_reference", "lines", "subtotal", "discount", "delivery_fee", "total",
        "currency", "payment_method", "link",
    }  # fmt: skip
    for language in LANGUAGES:
        assert "reason" not in required_names("payment_failed", language)
        assert "agent_name" not in required_names("order_out_for_delivery", language)
        assert "reason" in required_names("order_cancelled", language)


async def test_send_email_checks_the_context_without_rendering(
    db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_render(*args: object) -> None:
        raise AssertionError("send_email rendered the message")

    monkeypatch.setattr(email, "render", no_render)
    context = {k: v for k, v in SAMPLE_CONTEXT.items() if k != "lines"}
    with pytest.raises(EmailError, match=r"'order_received' needs \['lines'\]"):
        await send_email(
            db, to="a@example.com", template="order_received", language=None, context=context
        )
    job = await send_email(
        db, to="a@example.com", template="order_received", language="en", context=SAMPLE_CONTEXT
    )
    assert job.payload["template"] == "order_received"


@pytest.mark.parametrize(
    "context",
    [
        {**SAMPLE_CONTEXT, "total": "a lot"},  # not an amount for the money filter
        {**SAMPLE_CONTEXT, "lines": [{"name": "Riz"}]},  # a line without its quantity
    ],
)
def test_a_value_the_template_cannot_use_is_an_email_error_when_rendering(
    context: dict[str, Any],
) -> None:
    check_context("order_received", "en", context)  # the top level is all there
    with pytest.raises(EmailError, match="cannot be rendered"):
        render("order_received", "en", context)


def test_html_parts_escape_user_input() -> None:
    rendered = render("welcome", "en", {"name": "<script>alert(1)</script>"})
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


@pytest.mark.parametrize(
    ("to", "to_name", "template", "context", "message"),
    [
        ("not-an-address", None, "welcome", {"name": "x"}, "invalid email address"),
        ("a@example.com", "Eve\r\nBcc: evil@example.com", "welcome", {"name": "x"}, "line"),
        ("a@example.com", None, "no_such_template", {}, "unknown email template"),
        ("a@example.com", None, "verify_email", {"name": "x"}, "needs"),
    ],
)
async def test_bad_messages_are_refused_before_anything_is_deferred(
    db: AsyncSession,
    to: str,
    to_name: str | None,
    template: str,
    context: dict[str, object],
    message: str,
) -> None:
    with pytest.raises((EmailError, ValueError), match=message):
        await send_email(
            db, to=to, to_name=to_name, template=template, language="en", context=context
        )
    await db.rollback()
    assert await db.scalar(select(Job.id)) is None


async def test_header_injection_through_the_context_is_impossible(
    db: AsyncSession, settings: Settings, smtp_server: SMTPServer
) -> None:
    smtp_server.start()
    await send_email(
        db,
        to="victim@example.com",
        template="welcome",
        language="en",
        context={"name": "Eve\r\nBcc: evil@example.com\r\nX-Injected: 1"},
    )
    await db.commit()
    await run_pending(db, smtp_settings(settings, smtp_server.port))
    [message] = await smtp_server.inbox.wait_for(1)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "\n" not in message["Subject"]
    assert smtp_server.inbox.envelopes[0][1] == ["victim@example.com"]


@pytest.mark.parametrize(
    ("given", "stored", "rendered"),
    [("en-GB", "en", "Welcome"), ("FR", "fr", "Bienvenue"), ("de", None, "Bienvenue")],
)
async def test_language_tags_are_reduced_to_a_supported_language_or_the_default(
    db: AsyncSession, settings: Settings, tmp_path: Path, given: str, stored: str, rendered: str
) -> None:
    job = await send_email(
        db, to="a@example.com", template="welcome", language=given, context={"name": "A"}
    )
    assert job.payload["language"] == stored
    await db.commit()
    await run_pending(db, settings.model_copy(update={"mail_dir": tmp_path}))
    [eml] = list(tmp_path.glob("*.eml"))
    assert rendered in message_from_bytes(eml.read_bytes(), policy=policy.default)["Subject"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_smtp_over_starttls_or_implicit_tls_with_authentication(
    db: AsyncSession,
    settings: Settings,
    smtp_server: SMTPServer,
    tls_certificate: tuple[Path, Path],
    mode: str,
) -> None:
    cert, key = tls_certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"loumo" and data.password == b"s3cret")

    # aiosmtpd offers AUTH on an implicit-TLS socket only without its STARTTLS-only rule.
    tls_options: dict[str, Any] = (
        {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        if mode == "starttls"
        else {"ssl_context": context, "auth_require_tls": False}
    )
    smtp_server.start(authenticator=authenticator, auth_required=True, **tls_options)
    await send_email(
        db, to="awa@example.com", template="welcome", language="fr", context={"name": "Awa"}
    )
    await db.commit()
    secure = smtp_settings(
        settings,
        smtp_server.port,
        smtp_tls=mode,
        smtp_ca_file=cert,
        smtp_username="loumo",
        smtp_password=SecretStr("s3cret"),
    )
    await run_pending(db, secure)
    [message] = await smtp_server.inbox.wait_for(1)
    assert message["Subject"] == "Bienvenue sur Loumo, Awa"
    assert logins == [(b"loumo", b"s3cret")]
