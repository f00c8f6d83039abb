"""The `loumo` command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.settings import ConfigurationError, Settings, get_settings, resolve_secret_key

T = TypeVar("T")
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


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed unit of work on the configured database."""
    from loumo.core.db import Database

    async def run() -> T:
        db = Database(settings.database_url)
        try:
            async with db.sessionmaker() as session, session.begin():
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="Email of the admin account")],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="Password (asked when omitted)")
    ],
    name: Annotated[str, typer.Option(help="Display name")] = "Administrator",
) -> None:
    """Create an admin account, or give the admin role to an existing one (idempotent)."""
    from loumo.accounts.seed import create_admin as provision
    from loumo.core.errors import AppError

    settings = _checked_settings()
    try:
        created = _in_transaction(settings, lambda s: provision(s, email, password, name))
    except (ValueError, AppError) as exc:
        typer.echo(f"loumo: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"loumo: admin {'created' if created else 'already exists; role ensured'}: {email}")


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="Create the demo data")] = False,
) -> None:
    """Load demo data (idempotent): one user per role, printed with their passwords."""
    from loumo.accounts.seed import seed_demo_users

    if not demo:
        typer.echo("loumo: nothing to seed; pass --demo for the demo data", err=True)
        raise typer.Exit(code=2)
    settings = _checked_settings()
    users = _in_transaction(settings, seed_demo_users)
    typer.echo("loumo: demo users (email / password):")
    for role, email, password in users:
        typer.echo(f"  {role:<15} {email:<28} {password}")


def main() -> None:
    app(prog_name="loumo")


if __name__ == "__main__":
    main()
