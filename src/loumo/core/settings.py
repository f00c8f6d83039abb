"""Application settings, read from the environment and `.env`."""

from __future__ import annotations

import ipaddress
import itertools
import math
import secrets
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from starlette.requests import Request

WEAK_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development", "loumo"})
MIN_SECRET_LENGTH = 32
# What a production key must show besides its length (`secret_key_weakness`). Each bound is met
# by every one of 2 000 000 keys drawn from `secrets.token_hex(16)` (32 hexadecimal digits, the
# weakest random key the length allows), and refused by keys a person makes up:
# - bits by a per-character (Shannon) estimate: 32 random hex digits give 85 to 128, 64
#   characters of `secrets.token_urlsafe(48)` about 330, "0101…" 1 per character;
MIN_SECRET_BITS = 80
# - at most this share of neighbouring pairs are equal or one apart ("aaaa", "abcd", "1212");
MAX_SECRET_RUN_SHARE = 0.65
# - at least this share of its three-character groups are different (a repeated word or group,
#   "passwordpassword…", "kkkkkkkk…" refused).
MIN_SECRET_DISTINCT_TRIGRAMS = 0.75


class ConfigurationError(RuntimeError):
    """Raised when the settings cannot be used in the current environment."""


def _seconds_or_iso(value: object) -> object:
    """An environment variable holds text: a bare number is seconds; anything else goes on to
    pydantic's own duration parsing (ISO 8601 such as PT30M)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_or_iso)]
"""A length of time given in seconds (`1800`) or ISO 8601 (`PT30M`)."""


class Settings(BaseSettings):
    """Every runtime knob of Loumo; names match the environment variables (case-insensitive).

    The string under each field is its description: docs/operations.md's configuration
    reference is generated from them (`uv run loumo settings-doc`).
    """

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", use_attribute_docstrings=True
    )

    environment: Literal["development", "test", "production"] = "development"
    """Production turns on the production mode (docs/security.md): strong SECRET_KEY required,
    no API docs, no sandbox, no demo seed."""
    database_url: str = "sqlite+aiosqlite:///var/loumo.db"
    """SQLAlchemy URL: `sqlite+aiosqlite:///…` or `postgresql+asyncpg://user:pass@host/db`."""
    db_pool_size: int = Field(default=20, ge=1)
    """Connections each process keeps open to the database; a request finding none free waits
    for one."""
    db_max_overflow: int = Field(default=0, ge=0)
    """Connections a process may open beyond DB_POOL_SIZE under load, each closed when given
    back: opened and closed again under a steady load (a server process, the driver's setup,
    every statement prepared anew), they cost more than waiting for a pooled one."""
    db_command_timeout: float = Field(default=30.0, gt=0)
    """Seconds a statement waits for PostgreSQL's answer; past it (a hanging server) the
    connection is taken for lost and the request answered 503."""
    secret_key: SecretStr | None = None
    """Signs tokens. Unset outside production: generated into VAR_DIR/secret_key. Production
    needs at least 32 random characters."""
    var_dir: Path = Path("var")
    """Directory for local state (generated keys, local mail and media by default)."""

    redis_url: str | None = None
    """Redis shared by every API process (rate limits); unset: each process counts alone."""
    broker_url: str | None = None
    """amqp:// or redis:// URL of the job broker; unset: jobs are run from the jobs table."""
    rate_limit_prefix: str = "loumo"
    """Key prefix of the rate-limit counters in Redis."""
    rate_limit_fail_open: bool = False
    """When REDIS_URL's server does not answer: false refuses rate-limited requests (sign-in,
    sign-up, codes, uploads...) with a 503 until it does; true counts them in each process's
    memory meanwhile (each limit then holds per process). See docs/security.md."""
    idempotency_running_lease_seconds: float = Field(default=60.0, gt=0)
    """A request holding an Idempotency-Key this long is taken for dead (its process was killed):
    a retry with the key runs the work instead of answering 409 `idempotency_key_in_flight`.
    Longer than any request may run."""

    jobs_in_process: bool = True
    """Without BROKER_URL, run background jobs inside the API process (else a `loumo worker`
    polls the jobs table)."""
    jobs_poll_interval: float = Field(default=1.0, gt=0)
    """Seconds between polls of the jobs table."""
    jobs_concurrency: int = Field(default=4, ge=1)
    """Jobs run at once per process (`loumo worker --threads` overrides it)."""
    jobs_lease_seconds: float = Field(default=300.0, gt=0)
    """A running job whose runner vanished is run again after this many seconds."""
    jobs_relay_lease_seconds: float = Field(default=60.0, gt=0)
    """A relayed job whose broker message was lost is relayed again after this many seconds."""
    jobs_retry_base_seconds: float = Field(default=2.0, gt=0)
    """First retry delay of a failed job; doubles per attempt, with jitter."""
    jobs_retry_max_seconds: float = Field(default=3600.0, gt=0)
    """Longest retry delay of a failed job."""
    jobs_retention_days: int = Field(default=7, ge=1)
    """Succeeded jobs are deleted after this many days."""
    jobs_queue: str = Field(default="loumo.jobs", pattern=r"^[A-Za-z0-9._\-]{1,100}$")
    """Broker queue of the jobs."""
    jobs_modules: str = ""
    """Extra modules holding job handlers (comma-separated)."""
    shutdown_timeout: int = Field(default=20, ge=1)
    """Seconds a stopping process (SIGTERM) gives requests in flight (`loumo serve`) or running
    jobs (`loumo worker`) to finish; past it they are cut and a cut job is given back to the
    queue. Keep it below the orchestrator's grace period before SIGKILL."""
    auth_retention_days: int = Field(default=30, ge=1)
    """Days revoked or expired sign-ins, old refresh tokens and spent one-time codes are kept
    (for investigations) before the `accounts.purge` job deletes them."""
    stock_hold_seconds: float = Field(default=60.0, gt=0)
    """Stock a checkout took and never turned into its order (its process died in between) is
    given back by the `stock.release_holds` job once held this long. Longer than any request
    may run."""
    order_payment_timeout: Duration = Field(default=timedelta(minutes=30), gt=timedelta(0))
    """How long a prepaid order waits for its money before the `orders.expire` job gives its
    stock and promotion use back (seconds, or ISO 8601 such as PT30M)."""
    order_complete_after: Duration = Field(default=timedelta(hours=24), ge=timedelta(0))
    """How long after delivery the `orders.complete` job completes an order and awards its
    fidelity points (seconds or ISO 8601); staff may complete it earlier."""
    fidelity_rate: Decimal = Field(default=Decimal(1), ge=0)
    """Fidelity points per 100 whole units of the order's currency paid for goods (delivery
    fees and refunds excluded); 0 awards none. Default of the `/settings` value staff change
    at run time."""
    delivery_auto_assign: bool = True
    """Whether the periodic job assigns ready fulfilments to agents (default of the
    `/settings` value)."""
    delivery_code_ttl: Duration = Field(default=timedelta(hours=6), gt=timedelta(0))
    """How long a delivery closing code stays valid (default of the `/settings` value)."""
    delivery_default_eta: Duration = Field(default=timedelta(minutes=45), gt=timedelta(0))
    """Arrival estimate given to a customer when the agent gives none (default of the
    `/settings` value)."""

    email_backend: Literal["file", "console", "smtp"] = "file"
    """Where mail goes: files in MAIL_DIR, the console (development only), or SMTP."""
    smtp_host: str = "localhost"
    """SMTP relay host."""
    smtp_port: int = 587
    """SMTP relay port."""
    smtp_username: str | None = None
    """SMTP user, if the relay needs one."""
    smtp_password: SecretStr | None = None
    """SMTP password."""
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    """SMTP transport security."""
    smtp_timeout: float = 10.0
    """Seconds before an SMTP call gives up."""
    smtp_ca_file: Path | None = None
    """CA bundle for a relay whose certificate a private CA signed."""
    mail_from: str = "Loumo <no-reply@loumo.local>"
    """Sender of every email."""
    mail_dir: Path = Path("var/mail")
    """Directory of the `file` email backend."""

    storage_backend: Literal["local", "s3"] = "local"
    """Where uploaded media is stored: MEDIA_ROOT or an S3 bucket."""
    media_root: Path = Path("var/media")
    """Directory of the `local` storage backend."""
    s3_bucket: str | None = None
    """Bucket of the `s3` storage backend."""
    s3_endpoint_url: str | None = None
    """S3 API endpoint (MinIO, moto, another provider); unset: AWS."""
    s3_region: str = "us-east-1"
    """S3 region."""
    s3_access_key_id: str | None = None
    """S3 access key; unset: the SDK's usual sources (environment, instance role)."""
    s3_secret_access_key: SecretStr | None = None
    """S3 secret key."""
    s3_public_base_url: str | None = None
    """Public URL prefix of the bucket's objects (a CDN); unset: served through the API."""
    media_uploads_per_minute: int = Field(default=30, ge=1)
    """Uploads per user per minute, every upload route (429 past it)."""

    payment_providers: str = "sandbox,cash"
    """Payment providers offered (docs/payments.md): any of `sandbox` (the pawaPay adapter on
    the built-in emulation, never in production), `pawapay`, `stripe`, `cash`."""
    pawapay_base_url: str | None = None
    """pawaPay API URL; unset outside production: PUBLIC_BASE_URL/_sandbox/pawapay."""
    pawapay_api_token: SecretStr | None = None
    """pawaPay API token."""
    pawapay_timeout: float = Field(default=15.0, gt=0)
    """Seconds before a pawaPay call is "unknown" and its status is fetched instead."""
    pawapay_callback_public_key: str | None = None
    """PEM public key that signs pawaPay's callbacks. Unset outside production: the sandbox's
    key; unset in production: callbacks are not signature-checked (their status is always
    fetched from pawaPay before anything is settled)."""
    pawapay_active_conf_ttl: float = Field(default=300.0, ge=0)
    """Seconds pawaPay's active configuration (operators, limits) is cached."""
    pawapay_sandbox_signing_key: SecretStr | None = None
    """The sandbox's callback signing key (PEM, ECDSA P-256 or Ed25519); unset: generated into
    VAR_DIR."""
    pawapay_sandbox_callback_delay: float = Field(default=2.0, ge=0)
    """Seconds before the sandbox completes a deposit and calls back."""
    pawapay_sandbox_slow_seconds: float = Field(default=30.0, ge=0)
    """Delay of the sandbox's "slow" test number."""
    pawapay_sandbox_hang_seconds: float = Field(default=30.0, ge=0)
    """Delay of the sandbox's "timeout at initiation" test number."""
    stripe_secret_key: SecretStr | None = None
    """Stripe secret API key."""
    stripe_webhook_secret: SecretStr | None = None
    """Secret that signs Stripe's webhooks."""
    stripe_api_base: str | None = None
    """Stripe API URL, for tests and proxies only; unset: the SDK's default."""

    public_base_url: str = "http://127.0.0.1:8000"
    """The URL clients reach the API at (links, callbacks); HTTPS turns HSTS on."""
    api_docs: bool | None = None
    """Serve `/docs`, `/redoc` and `/openapi.json`; unset: on, except in production."""
    metrics_token: SecretStr | None = None
    """`/metrics` needs `Authorization: Bearer <METRICS_TOKEN>`; unset: open outside
    production, not served in production."""
    prometheus_multiproc_dir: Path | None = None
    """Directory where several API processes keep their metrics, so that one scrape sees them
    all. `loumo serve --workers N` (N > 1) makes a fresh one in the system's temporary directory
    when unset; a directory given here is emptied at start."""
    trusted_proxies: str = ""
    """Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses
    or networks, e.g. `10.0.0.0/8,127.0.0.1`; `*` trusts every peer). Empty: none, the TCP
    peer is the client."""
    cors_allowed_origins: str = ""
    """Origins allowed to call the API from a browser (comma-separated, e.g.
    `https://shop.example.com`); empty: no CORS headers at all."""
    default_language: Literal["fr", "en"] = "fr"
    """Language of answers when the request's Accept-Language names none we have."""
    log_level: str = "INFO"
    """Level of the JSON logs on stdout."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest JSON request body (413 past it)."""
    max_upload_bytes: int = Field(default=5 * 1_048_576, ge=1024)
    """Largest uploaded file (413 past it)."""
    request_body_timeout: float = Field(default=60.0, gt=0)
    """Seconds the whole request body may take to arrive (408 past it)."""
    media_max_pixels: int = Field(default=40_000_000, ge=1)
    """Images above this many pixels are refused from their header (413)."""
    media_decode_queue: int = Field(default=8, ge=0)
    """Uploads that may wait for a decoding thread (503 with Retry-After beyond)."""
    media_unattached_quota_bytes: int = Field(default=50 * 1_048_576, ge=0)
    """Bytes a user's uploads not yet attached to anything may take (409 past it)."""
    public_read_cache_seconds: float = Field(default=1.0, ge=0, le=2.0)
    """Seconds an anonymous product read (`GET /products`, `GET /products/{id}`) is answered from
    this process's copy (0: never): stock shown may be that stale, checkout never is. A commit in
    this process drops the copies at once; another process's writes show within this bound
    (docs/performance.md)."""
    public_read_cache_entries: int = Field(default=512, ge=1)
    """Anonymous product reads kept per process (the oldest goes first)."""

    @field_validator("api_docs", "metrics_token", "prometheus_multiproc_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`METRICS_TOKEN=` (empty) is no token, never the empty token (nor `.` a directory)."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        for item in _split(value):
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"not an address or network: {item!r}") from None
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in _split(value):
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"an origin is scheme://host[:port], not {origin!r}")
            if origin.endswith("/"):
                raise ValueError(f"an origin has no path, not even '/': {origin!r}")
        return value

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def api_docs_enabled(self) -> bool:
        """`/docs`, `/redoc` and `/openapi.json` are served: API_DOCS, else not in production."""
        return self.api_docs if self.api_docs is not None else not self.is_production

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _split(self.trusted_proxies)

    @property
    def cors_origin_list(self) -> list[str]:
        return _split(self.cors_allowed_origins)

    @property
    def hsts_enabled(self) -> bool:
        """Browsers are told to use HTTPS only when the public URL is HTTPS."""
        return self.public_base_url.lower().startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def payment_provider_names(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.payment_providers.split(",") if p.strip())

    @property
    def sandbox_enabled(self) -> bool:
        """The pawaPay sandbox is mounted (never in production)."""
        return self.environment != "production"

    @property
    def pawapay_url(self) -> str:
        """Where the pawaPay adapter sends its calls: PAWAPAY_BASE_URL, else the sandbox."""
        if self.pawapay_base_url:
            return self.pawapay_base_url.rstrip("/")
        if not self.sandbox_enabled:
            raise ConfigurationError("PAWAPAY_BASE_URL is required in production")
        return self.public_base_url.rstrip("/") + "/_sandbox/pawapay"


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def estimated_bits(key: str) -> float:
    """The key's length times the Shannon entropy of its characters (a generous upper bound)."""
    counts = Counter(key)
    total = len(key)
    return -total * sum(n / total * math.log2(n / total) for n in counts.values())


def secret_key_weakness(key: str) -> str | None:
    """Why `key` is too weak to sign production tokens, or None when it will do."""
    if key.lower() in WEAK_SECRETS:
        return "a well-known value"
    if len(key) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    trigrams = [key[i : i + 3] for i in range(len(key) - 2)]
    if len(set(trigrams)) < MIN_SECRET_DISTINCT_TRIGRAMS * len(trigrams):
        return "a character or group of characters repeated"
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in itertools.pairwise(key))
    if steps > MAX_SECRET_RUN_SHARE * (len(key) - 1):
        return "mostly repeated or consecutive characters"
    bits = estimated_bits(key)
    if bits < MIN_SECRET_BITS:
        return f"too little variety: about {bits:.0f} bits, {MIN_SECRET_BITS} needed"
    return None


def resolve_secret_key(settings: Settings) -> str:
    """Return a usable signing key, generating a development one into `var/` when unset.

    In production a missing or weak key is refused (too short, well known, a repeated group,
    runs of repeated or consecutive characters, or too little variety), so that tokens are
    never signed with a guessable secret. Outside production any non-empty key is used.
    """
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if settings.is_production:
        if not key:
            raise ConfigurationError("SECRET_KEY is not set; production needs a random secret")
        weakness = secret_key_weakness(key)
        if weakness:
            raise ConfigurationError(
                f"SECRET_KEY is weak ({weakness}); production needs at least "
                f"{MIN_SECRET_LENGTH} random characters, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return key
    if key:
        return key
    path = settings.var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_urlsafe(48)
    path.write_text(generated)
    path.chmod(0o600)
    return generated


@lru_cache
def get_settings() -> Settings:
    return Settings()


def app_settings(request: Request) -> Settings:
    """The settings the running app was built with (`app.state.settings`, set by the app
    factory): how a route reads a setting."""
    settings: Settings = request.app.state.settings
    return settings
