"""Production mode is closed: no demo accounts, no API documents, no open metrics, readiness
without driver text, security headers on every answer, X-Forwarded-For only from trusted
proxies, CORS only for the origins named."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from loumo.accounts.models import User
from loumo.cli import app as cli
from loumo.core.policy import policy
from loumo.core.settings import Settings, get_settings
from loumo.main import create_app
from tests.conftest import make_settings
from tests.factories import count

STRONG_KEY = secrets.token_urlsafe(48)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}


def production(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "production",
        "secret_key": STRONG_KEY,
        "pawapay_base_url": "https://api.sandbox.pawapay.io",
        "public_base_url": "https://api.loumo.example",
    }
    return make_settings(database_url, tmp_path, **(values | overrides))


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, *, lifespan: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new app built from `settings` (its lifespan run only when asked)."""
    application = create_app(settings)
    async with contextlib.AsyncExitStack() as stack:
        if lifespan:
            await stack.enter_async_context(application.router.lifespan_context(application))
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://testserver")
        )


# --- seed --demo ------------------------------------------------------------------------------


@pytest.fixture
def production_env(
    app: FastAPI, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The CLI's environment says production, on the test database (`app`: tables emptied)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PAWAPAY_BASE_URL", "https://api.sandbox.pawapay.io")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("production_env")
async def test_seed_demo_refuses_in_production(db: AsyncSession) -> None:
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["seed", "--demo"])
    assert result.exit_code == 2
    assert "refusing to seed demo data in production" in result.output
    assert "@loumo.example" not in result.output
    assert await count(db, User) == 0


# --- API documents ------------------------------------------------------------------------------


async def test_api_documents_are_off_in_production(database_url: str, tmp_path: Path) -> None:
    async with serving(production(database_url, tmp_path)) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
        assert (await client.get("/healthz")).status_code == 200


async def test_api_documents_can_be_turned_on_in_production(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(production(database_url, tmp_path, api_docs=True)) as client:
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Loumo API"
        assert (await client.get("/docs")).status_code == 200


async def test_api_documents_can_be_turned_off_in_development(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(make_settings(database_url, tmp_path, api_docs=False)) as client:
        assert (await client.get("/openapi.json")).status_code == 404


# --- /metrics -----------------------------------------------------------------------------------


async def test_metrics_are_not_served_in_production_without_a_token(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(production(database_url, tmp_path)) as client:
        response = await client.get("/metrics")
        assert response.status_code == 404
        assert "loumo_http_requests_total" not in response.text


@pytest.mark.parametrize("environment", ["production", "development"])
async def test_metrics_need_the_bearer_token_when_one_is_set(
    database_url: str, tmp_path: Path, environment: str
) -> None:
    token = secrets.token_urlsafe(32)
    settings = production(database_url, tmp_path, environment=environment, metrics_token=token)
    async with serving(settings) as client:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {token}"},
            {"Authorization": f"Bearer {token}x"},
        ):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "loumo_http" not in response.text
        good = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert good.status_code == 200
        assert "loumo_http_requests_total" in good.text


# --- /readyz ------------------------------------------------------------------------------------


async def test_readyz_names_the_failing_check_without_the_driver_text(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def leaky(request: Request) -> None:
        raise OSError("connect to postgres://loumo:hunter2@10.0.3.7:5432 failed: no route")

    monkeypatch.setitem(app.state.readiness_checks, "broker", leaky)
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"] == {"database": "ok", "broker": "error: unavailable"}
    for secret in ("hunter2", "10.0.3.7", "postgres://", "OSError"):
        assert secret not in response.text


# --- security headers ---------------------------------------------------------------------------


async def test_security_headers_on_every_answer(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(request: Request) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(app.state.readiness_checks, "broken", broken)
    answers = [
        await client.get("/healthz"),
        await client.get("/api/v1/products"),
        await client.get("/api/v1/me"),  # 401
        await client.get("/api/v1/nowhere"),  # 404 from routing
        await client.post("/api/v1/auth/login", content=b"{"),  # 400 malformed JSON
        await client.get("/readyz"),  # 503
        await client.get("/docs"),  # HTML
        await client.get("/media/absent/480.webp"),  # the files mount
    ]
    for response in answers:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.url, name)
        # The public URL of the test settings is http: no HSTS.
        assert "strict-transport-security" not in response.headers


async def test_security_headers_on_a_last_resort_500(database_url: str, tmp_path: Path) -> None:
    application = create_app(make_settings(database_url, tmp_path))

    @application.get("/_crash", **policy("public"))
    async def crash() -> None:
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/_crash")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_hsts_when_the_public_url_is_https(database_url: str, tmp_path: Path) -> None:
    async with serving(production(database_url, tmp_path)) as client:
        response = await client.get("/healthz")
    assert response.headers["strict-transport-security"] == ("max-age=63072000; includeSubDomains")
    assert response.headers["x-content-type-options"] == "nosniff"


# --- client address -----------------------------------------------------------------------------


def _with_client_probe(settings: Settings) -> FastAPI:
    application = create_app(settings)

    @application.get("/_client", **policy("public"))
    async def client_of(request: Request) -> dict[str, Any]:
        return {"host": request.client.host if request.client else None}

    return application


async def _client_host(application: FastAPI, peer: str, headers: dict[str, str]) -> str:
    transport = httpx.ASGITransport(
        app=application, raise_app_exceptions=False, client=(peer, 40000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        host: str = (await client.get("/_client", headers=headers)).json()["host"]
        return host


async def test_x_forwarded_for_is_ignored_without_trusted_proxies(
    database_url: str, tmp_path: Path
) -> None:
    application = _with_client_probe(make_settings(database_url, tmp_path))
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    # A local process is no proxy either.
    assert await _client_host(application, "127.0.0.1", spoofed) == "127.0.0.1"
    assert await _client_host(application, "198.51.100.4", spoofed) == "198.51.100.4"


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, trusted_proxies="10.0.0.0/8, 192.0.2.1")
    application = _with_client_probe(settings)
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    assert await _client_host(application, "10.1.2.3", forwarded) == "203.0.113.9"
    assert await _client_host(application, "192.0.2.1", forwarded) == "203.0.113.9"
    assert await _client_host(application, "127.0.0.1", forwarded) == "127.0.0.1"
    # A client cannot push an address in front of what the trusted proxy appended.
    chained = {"X-Forwarded-For": "198.51.100.66, 203.0.113.9"}
    assert await _client_host(application, "10.1.2.3", chained) == "203.0.113.9"


def test_trusted_proxies_must_be_addresses(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an address or network"):
        make_settings(database_url, tmp_path, trusted_proxies="proxy.internal")


def test_serve_leaves_proxy_headers_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's own proxy handling would trust FORWARDED_ALLOW_IPS (127.0.0.1 by default)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("loumo.cli.uvicorn.run", lambda *a, **kw: calls.append(kw))
    monkeypatch.setenv("ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "8123"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert calls[0]["proxy_headers"] is False


# --- CORS ---------------------------------------------------------------------------------------


async def test_no_cors_headers_by_default(client: httpx.AsyncClient) -> None:
    origin = {"Origin": "https://evil.example"}
    response = await client.get("/api/v1/products", headers=origin)
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options(
        "/api/v1/auth/login",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_for_the_allowed_origins_only(database_url: str, tmp_path: Path) -> None:
    shop = "https://shop.loumo.example"
    settings = make_settings(database_url, tmp_path, cors_allowed_origins=f"{shop}")
    async with serving(settings, lifespan=True) as client:
        preflight = await client.options(
            "/api/v1/auth/login",
            headers={
                "Origin": shop,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == shop
        assert "access-control-allow-credentials" not in preflight.headers
        read = await client.get("/api/v1/products", headers={"Origin": shop})
        assert read.headers["access-control-allow-origin"] == shop
        assert "X-Request-ID" in read.headers["access-control-expose-headers"]

        other = await client.get("/api/v1/products", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        refused = await client.options(
            "/api/v1/auth/login",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers


def test_cors_origins_must_be_origins(database_url: str, tmp_path: Path) -> None:
    for bad in ("shop.loumo.example", "https://shop.loumo.example/"):
        with pytest.raises(ValueError, match="origin"):
            make_settings(database_url, tmp_path, cors_allowed_origins=bad)


def test_empty_settings_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`METRICS_TOKEN=` in a compose file or `.env` must not make the empty string the token."""
    monkeypatch.setenv("METRICS_TOKEN", "")
    monkeypatch.setenv("API_DOCS", " ")
    settings = Settings(_env_file=None)
    assert settings.metrics_token is None
    assert settings.api_docs is None
