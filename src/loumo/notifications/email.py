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
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosmtplib
import structlog
from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
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

# Template name -> context keys it needs (others are optional).
TEMPLATES: dict[str, frozenset[str]] = {
    "welcome": frozenset({"name"}),
    "verify_email": frozenset({"name", "code", "link"}),
    "password_reset": frozenset({"name", "link", "code"}),
    "password_changed": frozenset({"name"}),
    # Someone registered an address whose account was never verified: its owner may take it.
    "account_pending_claim": frozenset({"link", "code"}),
    "order_confirmation": frozenset({"name", "order_reference", "total", "currency", "link"}),
    "payment_received": frozenset({"name", "order_reference", "amount", "currency", "link"}),
    "payment_failed": frozenset({"name", "order_reference", "amount", "currency", "link"}),
    "order_out_for_delivery": frozenset({"name", "order_reference", "link"}),
    "delivered": frozenset({"name", "order_reference", "link"}),
    "refund_issued": frozenset({"name", "order_reference", "amount", "currency", "link"}),
    "low_stock": frozenset({"name", "shop_name", "product_name", "available", "threshold", "link"}),
    # Orders (the customer at each step; the shop's managers for their fulfilment).
    "order_received": frozenset(
        {"name", "order_reference", "lines", "subtotal", "discount", "delivery_fee", "total"}
        | {"currency", "payment_method", "link"}
    ),
    "order_preparing": frozenset({"name", "order_reference", "link"}),
    "order_cancelled": frozenset({"name", "order_reference", "reason", "link"}),
    "order_expired": frozenset({"name", "order_reference", "link"}),
    "fulfilment_to_prepare": frozenset(
        {"name", "order_reference", "shop_name", "action", "lines", "link"}
    ),
    "fulfilment_cancelled": frozenset({"name", "order_reference", "shop_name", "lines", "link"}),
    # Delivery (the agent on assignment; staff when a closing code locks).
    "delivery_assigned": frozenset(
        {"name", "order_reference", "shop_name", "address", "lines", "scheduled_at", "link"}
    ),
    "delivery_code_locked": frozenset({"name", "order_reference", "link"}),
}

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


_env = Environment(
    loader=PackageLoader("loumo.notifications", "templates"),
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


def render(template: str, language: str, context: dict[str, Any]) -> RenderedEmail:
    """Render the subject, plain-text and HTML parts of `template` in `language`."""
    if template not in TEMPLATES:
        raise EmailError(f"unknown email template {template!r}")
    if language not in LANGUAGES:
        raise EmailError(f"unsupported language {language!r}")
    missing = TEMPLATES[template] - context.keys()
    if missing:
        raise EmailError(f"template {template!r} needs {sorted(missing)}")
    values = {**context, "language": language}
    text_template = _env.get_template(f"{language}/{template}.txt")
    subject = "".join(text_template.blocks["subject"](text_template.new_context(values)))
    return RenderedEmail(
        subject=" ".join(subject.split()),  # one line, whatever the context held
        text=text_template.render(values).strip() + "\n",
        html=_env.get_template(f"{language}/{template}.html").render(values),
    )


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
    context that lacks what the template needs.
    """
    try:
        payload = EmailJobPayload(
            to=to, to_name=to_name, template=template, language=language, context=context
        )
    except ValidationError as exc:
        raise EmailError(exc.errors()[0]["msg"]) from None
    render(payload.template, payload.language or "fr", payload.context)  # fail now, not later
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
