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
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class Settings(BaseSettings):
    """Every runtime knob of Loumo; names match the environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///var/loumo.db"
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    secret_key: SecretStr | None = None
    var_dir: Path = Path("var")

    redis_url: str | None = None
    broker_url: str | None = None
    rate_limit_prefix: str = "loumo"
    # A request holding an Idempotency-Key this long is taken for dead (its process was killed):
    # a retry with the key runs the work instead of answering 409 `idempotency_key_in_flight`.
    # Seconds; longer than any request may run.
    idempotency_running_lease_seconds: float = Field(default=60.0, gt=0)

    # Background jobs: see loumo.jobs. Without BROKER_URL the API process runs them itself.
    jobs_in_process: bool = True
    jobs_poll_interval: float = Field(default=1.0, gt=0)
    jobs_concurrency: int = Field(default=4, ge=1)
    jobs_lease_seconds: float = Field(default=300.0, gt=0)
    jobs_relay_lease_seconds: float = Field(default=60.0, gt=0)
    jobs_retry_base_seconds: float = Field(default=2.0, gt=0)
    jobs_retry_max_seconds: float = Field(default=3600.0, gt=0)
    jobs_retention_days: int = Field(default=7, ge=1)
    jobs_queue: str = Field(default="loumo.jobs", pattern=r"^[A-Za-z0-9._\-]{1,100}$")
    jobs_modules: str = ""
    # How long revoked or expired sign-ins, old refresh tokens and spent one-time codes are kept
    # (for investigations) before the `accounts.purge` job deletes them.
    auth_retention_days: int = Field(default=30, ge=1)
    # How long a prepaid order waits for its money before the `orders.expire` job gives its
    # stock and promotion use back (seconds, or an ISO 8601 duration such as PT30M).
    order_payment_timeout: timedelta = Field(default=timedelta(minutes=30), gt=timedelta(0))
    # How long after delivery the `orders.complete` job completes an order (and awards its
    # fidelity points); staff may complete it earlier. Same formats as above.
    order_complete_after: timedelta = Field(default=timedelta(hours=24), ge=timedelta(0))
    # Fidelity points earned per 100 whole units of the order's currency paid for goods
    # (delivery fees and refunds excluded): 1 = one point per 100 XAF. 0 awards none. The
    # default of the `/settings` value staff will change at run time (DESIGN.md).
    fidelity_rate: Decimal = Field(default=Decimal(1), ge=0)
    # Delivery (defaults of the `/settings` values staff change at run time): whether the
    # periodic job assigns ready fulfilments to agents, how long a closing code stays valid,
    # and the arrival estimate given to a customer when the agent does not give one.
    delivery_auto_assign: bool = True
    delivery_code_ttl: timedelta = Field(default=timedelta(hours=6), gt=timedelta(0))
    delivery_default_eta: timedelta = Field(default=timedelta(minutes=45), gt=timedelta(0))

    email_backend: Literal["file", "console", "smtp"] = "file"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    smtp_timeout: float = 10.0
    smtp_ca_file: Path | None = None  # CA bundle for a relay with a private certificate
    mail_from: str = "Loumo <no-reply@loumo.local>"
    mail_dir: Path = Path("var/mail")

    storage_backend: Literal["local", "s3"] = "local"
    media_root: Path = Path("var/media")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_public_base_url: str | None = None
    media_uploads_per_minute: int = Field(default=30, ge=1)  # per user, every upload route

    # Payment service: see docs/payments.md. `sandbox` is the pawaPay adapter pointed at the
    # built-in emulation (`/_sandbox/pawapay`, never mounted in production); `pawapay` the same
    # adapter on PAWAPAY_BASE_URL; `stripe` cards; `cash` cash on delivery.
    payment_providers: str = "sandbox,cash"
    pawapay_base_url: str | None = None
    pawapay_api_token: SecretStr | None = None
    pawapay_timeout: float = Field(default=15.0, gt=0)
    # PEM public key that signs pawaPay's callbacks; unset outside production means the
    # sandbox's own key. Unset in production means callbacks are not signature-checked (their
    # status is always fetched from pawaPay before anything is settled).
    pawapay_callback_public_key: str | None = None
    pawapay_active_conf_ttl: float = Field(default=300.0, ge=0)
    # The sandbox: its callback signing key (PEM, ECDSA P-256 or Ed25519; generated into
    # `var/` when unset), how long before it completes a deposit and calls back, and its
    # "slow" and "timeout" test numbers' delays.
    pawapay_sandbox_signing_key: SecretStr | None = None
    pawapay_sandbox_callback_delay: float = Field(default=2.0, ge=0)
    pawapay_sandbox_slow_seconds: float = Field(default=30.0, ge=0)
    pawapay_sandbox_hang_seconds: float = Field(default=30.0, ge=0)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None  # tests and proxies only; the SDK's default otherwise

    public_base_url: str = "http://127.0.0.1:8000"
    # Production mode (docs/security.md). `/docs`, `/redoc` and `/openapi.json`: unset
    # means on outside production, off in production.
    api_docs: bool | None = None
    # `/metrics` takes `Authorization: Bearer <METRICS_TOKEN>` when set; unset, it is open
    # outside production and not served in production.
    metrics_token: SecretStr | None = None
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated addresses or
    # networks, e.g. "10.0.0.0/8,127.0.0.1"; "*" trusts every peer). Empty: none, the TCP peer
    # is the client.
    trusted_proxies: str = ""
    # Origins allowed to call the API from a browser (comma-separated, e.g.
    # "https://shop.example.com"); empty: no CORS headers at all.
    cors_allowed_origins: str = ""
    default_language: Literal["fr", "en"] = "fr"
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=5 * 1_048_576, ge=1024)
    # Input limits (docs/security.md): the whole request body must arrive within this
    # many seconds (408 past it; read before any route runs, see core.request_guard); images
    # above this many pixels are refused from their header (413); at most this many uploads
    # wait for one of the decoding threads (503 with Retry-After beyond); and bytes a user's
    # uploads not yet attached to anything may take (409 past it).
    request_body_timeout: float = Field(default=60.0, gt=0)
    media_max_pixels: int = Field(default=40_000_000, ge=1)
    media_decode_queue: int = Field(default=8, ge=0)
    media_unattached_quota_bytes: int = Field(default=50 * 1_048_576, ge=0)

    @field_validator("api_docs", "metrics_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`METRICS_TOKEN=` (empty) is no token, never the empty token."""
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
