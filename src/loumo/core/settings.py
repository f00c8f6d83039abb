"""Application settings, read from the environment and `.env`."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

WEAK_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development", "loumo"})
MIN_SECRET_LENGTH = 32


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
    default_language: Literal["fr", "en"] = "fr"
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=5 * 1_048_576, ge=1024)
    # Input limits (docs/security-input.md): the whole request body must arrive within this
    # many seconds (408 past it; read before any route runs, see core.request_guard); images
    # above this many pixels are refused from their header (413); at most this many uploads
    # wait for one of the decoding threads (503 with Retry-After beyond); and bytes a user's
    # uploads not yet attached to anything may take (409 past it).
    request_body_timeout: float = Field(default=60.0, gt=0)
    media_max_pixels: int = Field(default=40_000_000, ge=1)
    media_decode_queue: int = Field(default=8, ge=0)
    media_unattached_quota_bytes: int = Field(default=50 * 1_048_576, ge=0)

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


def resolve_secret_key(settings: Settings) -> str:
    """Return a usable signing key, generating a development one into `var/` when unset.

    In production a missing or weak key is refused, so that tokens are never signed with a
    guessable secret.
    """
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if settings.environment == "production":
        if not key:
            raise ConfigurationError("SECRET_KEY is not set; production needs a random secret")
        if key.lower() in WEAK_SECRETS or len(key) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                "SECRET_KEY is weak; production needs at least "
                f"{MIN_SECRET_LENGTH} random characters"
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
