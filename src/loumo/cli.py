"""The `loumo` command."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from loumo.core.settings import ConfigurationError, Settings, get_settings, resolve_secret_key

app = typer.Typer(help="Loumo marketplace backend.", no_args_is_help=True)


def _checked_settings() -> Settings:
    """Load settings and refuse, in one line, a configuration that cannot run."""
    try:
        settings = get_settings()
        resolve_secret_key(settings)
    except ConfigurationError as exc:
        typer.echo(f"loumo: refusing to start: {exc}", err=True)
        raise typer.Exit(code=2) from None
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Number of API processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
) -> None:
    """Serve the HTTP API."""
    settings = _checked_settings()
    uvicorn.run(
        "loumo.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        access_log=False,
        log_config=None,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        server_header=False,
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations up to head."""
    from loumo.core.migrations import upgrade

    settings = _checked_settings()
    upgrade(settings.database_url)
    typer.echo("loumo: database migrated to head")


@app.command()
def seed(
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo catalog (idempotent)")
    ] = False,
    scale: Annotated[
        int | None, typer.Option("--scale", min=1, help="Add N benchmark products")
    ] = None,
) -> None:
    """Load demo data, or N generated products for benchmarks."""
    import asyncio

    from loumo.seed.run import run_seed

    settings = _checked_settings()
    if not demo and scale is None:
        typer.echo("loumo: nothing to seed; pass --demo and/or --scale N", err=True)
        raise typer.Exit(code=2)
    for line in asyncio.run(run_seed(settings.database_url, demo=demo, scale=scale)):
        typer.echo(f"loumo: {line}")


def main() -> None:
    app(prog_name="loumo")


if __name__ == "__main__":
    main()
