"""The Email service: templates rendered in the user's language, sent by the `email.send` job.

`send_email()` validates and defers; the job renders the message and hands it to the backend
picked by `EMAIL_BACKEND`: `file` (one .eml per message under `MAIL_DIR`), `console` (stdout) or
`smtp` (aiosmtplib). A message's Message-ID derives from its job id, so a retried send carries the
same id and the receiving side can recognise it.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosmtplib
import structlog
from email_validator import EmailNotValidError, validate_email
from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    meta,
    nodes,
    select_autoescape,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.settings import Settings
from loumo.jobs.models import Job
from loumo.jobs.outbox import defer
from loumo.jobs.registry import PermanentJobError

logger = structlog.get_logger("loumo.email")

EMAIL_JOB = "email.send"
LANGUAGES = ("fr", "en")
Language = Literal["fr", "en"]

# The templates there are, each `templates/<language>/<name>.{txt,html}` in every language. What
# one needs from its context is what its files use (`required_names`), never a second list here.
TEMPLATES: frozenset[str] = frozenset(
    {
        "welcome",
        "verify_email",
        "password_reset",
        "password_changed",
        # Someone registered an address whose account was never verified: its owner may take it.
        "account_pending_claim",
        "order_confirmation",
        "payment_received",
        "payment_failed",
        "order_out_for_delivery",
        "delivered",
        "refund_issued",
        "low_stock",
        # Orders (the customer at each step; the shop's managers for their fulfilment).
        "order_received",
        "order_preparing",
        "order_cancelled",
        "order_expired",
        "fulfilment_to_prepare",
        "fulfilment_cancelled",
        # Delivery (the agent on assignment; staff when a closing code locks).
        "delivery_assigned",
        "delivery_code_locked",
    }
)

# ISO 4217 minor units of the currencies Loumo handles; others default to 2.
_MINOR_UNITS = {"XAF": 0, "XOF": 0, "GNF": 0, "RWF": 0, "UGX": 0, "JPY": 0, "KWD": 3}
_LINE_BREAKS = re.compile(r"[\r\n]")


class EmailError(ValueError):
    """The message cannot be built: unknown template, missing context, bad address or name."""


def minor_units(currency: str) -> int:
    """Digits after the decimal point in `currency` (ISO 4217): XAF 0, EUR 2, KWD 3."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def format_money(amount: int, currency: str, language: str = "fr") -> str:
    digits = minor_units(currency)
    value = amount / (10**digits) if digits else amount
    text = f"{value:,.{digits}f}"
    if language == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return f"{text} {currency.upper()}"


_loader = PackageLoader("loumo.notifications", "templates")
_env = Environment(
    loader=_loader,
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.filters["money"] = format_money


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


_RENDER_ADDS = frozenset({"language"})  # what `render` puts in every context itself


def _file_needs(name: str, seen: set[str]) -> set[str]:
    """The context names the template file `name`, and those it extends, includes or imports,
    look up, less the environment's globals, the macros it imports (Jinja counts those as
    undeclared in a child template's blocks) and the optional names: any name the file tests
    with `is defined` is taken to be read only under that test (a test renders every template
    with only its required names, which holds the shipped ones to it)."""
    if name in seen:
        return set()
    seen.add(name)
    source, _, _ = _loader.get_source(_env, name)
    ast = _env.parse(source)
    optional = {
        test.node.name
        for test in ast.find_all(nodes.Test)
        if test.name in ("defined", "undefined") and isinstance(test.node, nodes.Name)
    }
    imported = {node.target for node in ast.find_all(nodes.Import)} | {
        alias if isinstance(alias, str) else alias[1]
        for node in ast.find_all(nodes.FromImport)
        for alias in node.names
    }
    needed = meta.find_undeclared_variables(ast) - optional - imported - _env.globals.keys()
    for parent in meta.find_referenced_templates(ast):
        if parent is not None:
            needed |= _file_needs(parent, seen)
    return needed


@cache
def _needs(template: str, language: str) -> frozenset[str]:
    needed: set[str] = set()
    try:
        for part in ("txt", "html"):
            needed |= _file_needs(f"{language}/{template}.{part}", set())
    except TemplateNotFound as exc:
        raise EmailError(f"template {template!r} has no {language} file {exc.name!r}") from None
    return frozenset(needed - _RENDER_ADDS)


def required_names(template: str, language: str) -> frozenset[str]:
    """The top-level context keys `template` needs in `language`: every name its files (subject,
    text, HTML and the layouts and macros they use) read, except those only read after an
    `is defined` test. Parsed once per template and language, then cached."""
    if template not in TEMPLATES:
        raise EmailError(f"unknown email template {template!r}")
    if language not in LANGUAGES:
        raise EmailError(f"unsupported language {language!r}")
    return _needs(template, language)


def check_context(template: str, language: str | None, context: dict[str, Any]) -> None:
    """Raise EmailError unless `template` exists and `context` has every top-level name it needs
    in `language` (in every language when None: the job picks DEFAULT_LANGUAGE), without
    rendering. Only the top level is checked: what a value holds (`line.quantity`, an amount for
    the `money` filter) is seen when the message is rendered."""
    for lang in (language,) if language else LANGUAGES:
        missing = required_names(template, lang) - context.keys()
        if missing:
            raise EmailError(f"template {template!r} needs {sorted(missing)} in its context")


def render(template: str, language: str, context: dict[str, Any]) -> RenderedEmail:
    """Render the subject, plain-text and HTML parts of `template` in `language`; EmailError when
    the context lacks a name or holds a value the template cannot use (rendering again would
    fail the same way)."""
    check_context(template, language, context)
    values = {**context, "language": language}
    try:
        text_template = _env.get_template(f"{language}/{template}.txt")
        subject = "".join(text_template.blocks["subject"](text_template.new_context(values)))
        return RenderedEmail(
            subject=" ".join(subject.split()),  # one line, whatever the context held
            text=text_template.render(values).strip() + "\n",
            html=_env.get_template(f"{language}/{template}.html").render(values),
        )
    except (TemplateError, TypeError, ValueError) as exc:
        raise EmailError(
            f"template {template!r} cannot be rendered with its context: {exc}"
        ) from exc


def normalise_language(value: object) -> Language | None:
    """ "fr" or "en" from a language tag ("en-GB" -> "en"); None when it is neither."""
    if not isinstance(value, str):
        return None
    primary = value.strip().lower().replace("_", "-").split("-", 1)[0]
    if primary == "fr":
        return "fr"
    if primary == "en":
        return "en"
    return None


def check_address(address: str) -> str:
    """The normalised address, or EmailError; deliverability (DNS) is not checked."""
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise EmailError(f"invalid email address: {exc}") from None


def check_display_name(name: str | None) -> str | None:
    if name is None:
        return None
    if _LINE_BREAKS.search(name):
        raise EmailError("a display name may not contain line breaks")
    return name.strip() or None


class EmailJobPayload(BaseModel):
    """The payload of the `email.send` job: a contract other packages defer against."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=320)
    to_name: str | None = Field(default=None, max_length=200)
    template: str
    # "fr" or "en"; a regional tag ("en-GB") counts as its language, and anything else (or
    # nothing) means DEFAULT_LANGUAGE when the message is built.
    language: Language | None = None
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("language", mode="before")
    @classmethod
    def _primary_language(cls, value: object) -> str | None:
        return normalise_language(value)

    @field_validator("to")
    @classmethod
    def _valid_to(cls, value: str) -> str:
        return check_address(value)

    @field_validator("to_name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return check_display_name(value)

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value not in TEMPLATES:
            raise ValueError(f"unknown email template {value!r}")
        return value


async def send_email(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    language: str | None,
    context: dict[str, Any],
    to_name: str | None = None,
) -> Job:
    """Validate a message and defer its sending in the caller's transaction.

    Raises EmailError for a bad address, a line break in the name, an unknown template or a
    context that lacks a top-level name the template needs (`check_context`: no rendering).
    What the values hold (`order.reference`, a line's `quantity`, an amount's type) is only
    checked when the job renders the message; a bad one fails that job for good.
    """
    try:
        payload = EmailJobPayload(
            to=to, to_name=to_name, template=template, language=language, context=context
        )
    except ValidationError as exc:
        raise EmailError(exc.errors()[0]["msg"]) from None
    check_context(payload.template, payload.language, payload.context)  # fail now, not later
    return await defer(session, EMAIL_JOB, payload.model_dump(mode="json"))


def build_message(
    payload: EmailJobPayload, settings: Settings, *, message_key: str | None = None
) -> EmailMessage:
    """The MIME message (text and HTML alternatives); `message_key` makes the Message-ID stable."""
    language = payload.language or settings.default_language
    rendered = render(payload.template, language, payload.context)
    from_name, from_addr = parseaddr(settings.mail_from)
    # MAIL_FROM is our configuration and may use a special-use domain (`loumo.local`), which
    # email-validator refuses; it only has to be one well-formed address.
    local, _, domain = from_addr.partition("@")
    if not local or not domain or _LINE_BREAKS.search(settings.mail_from):
        raise EmailError(f"MAIL_FROM is not a usable address: {settings.mail_from!r}")
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = Address(display_name=check_display_name(from_name) or "", addr_spec=from_addr)
    message["To"] = Address(display_name=payload.to_name or "", addr_spec=payload.to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = (
        f"<{message_key}@{domain}>" if message_key else make_msgid(domain=domain)
    )
    message["X-Loumo-Template"] = payload.template
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    message["Content-Language"] = language  # after the parts: set_content clears it
    return message


class EmailBackend(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class FileBackend:
    """Writes each message to `MAIL_DIR` as an .eml file named after its Message-ID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        message_id = str(message["Message-ID"])
        name = hashlib.sha256(message_id.encode()).hexdigest()[:32]
        path = self.directory / f"{name}.eml"
        path.write_bytes(message.as_bytes())  # same id, same file: a retry overwrites
        # Never the subject or the body: they may carry a one-time code.
        logger.info(
            "email_written",
            path=str(path),
            to=str(message["To"]),
            template=str(message["X-Loumo-Template"]),
            message_id=message_id,
        )


class ConsoleBackend:
    """Prints each message to stdout (development)."""

    async def send(self, message: EmailMessage) -> None:
        sys.stdout.write(message.as_string() + "\n")
        sys.stdout.flush()
        logger.info("email_printed", to=str(message["To"]), message_id=str(message["Message-ID"]))


class SMTPBackend:
    """Sends over SMTP with aiosmtplib: plain, STARTTLS or implicit TLS, optional auth."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",
            timeout=s.smtp_timeout,
            cert_bundle=str(s.smtp_ca_file) if s.smtp_ca_file else None,
        )
        logger.info("email_sent", to=str(message["To"]), message_id=str(message["Message-ID"]))


async def deliver(payload: EmailJobPayload, settings: Settings, *, message_key: str) -> None:
    """Build and send one message now, from inside a job (the `email.send` job, or a domain's
    job that derives a secret at send time and must not put it in a job payload).

    A message that cannot be built, or that the SMTP server refuses for good, raises
    `PermanentJobError`; a transient failure raises, and the job is retried.
    """
    try:
        message = build_message(payload, settings, message_key=message_key)
    except EmailError as exc:
        raise PermanentJobError(f"cannot build the message: {exc}") from exc
    try:
        await get_backend(settings).send(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise PermanentJobError(f"the SMTP server refused the recipient: {exc}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentJobError(f"the SMTP server refused the message: {exc}") from exc
        raise


def get_backend(settings: Settings) -> EmailBackend:
    if settings.email_backend == "smtp":
        return SMTPBackend(settings)
    if settings.email_backend == "console":
        return ConsoleBackend()
    return FileBackend(settings.mail_dir)
