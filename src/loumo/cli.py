"""The `loumo` command."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession

from loumo.core.settings import ConfigurationError, Settings, get_settings, resolve_secret_key

T = TypeVar("T")
app = typer.Typer(help="Loumo marketplace backend.", no_args_is_help=True)
# prometheus-client's switch to multiprocess metrics (loumo.core.metrics), read when it is imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The files prometheus-client writes there (nothing else of the directory is removed).
_METRICS_FILE = re.compile(r"^(counter|histogram|summary|gauge_[a-z]+)_\d+\.db$")


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
    metrics_dir, made_here = _prepare_metrics_dir(settings, 1 if reload else workers)
    try:
        _run_uvicorn(settings, host=host, port=port, workers=workers, reload=reload)
    finally:
        if made_here and metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _prepare_metrics_dir(settings: Settings, workers: int) -> tuple[Path | None, bool]:
    """Several API processes share their metrics through a directory (multiprocess mode), so
    that one scrape counts them all: PROMETHEUS_MULTIPROC_DIR, emptied now, else with more than
    one worker a fresh temporary directory, removed on exit. Returns it and whether it was
    made here; None with one process and no directory set (metrics in memory)."""
    chosen = settings.prometheus_multiproc_dir
    if chosen is None and workers == 1:
        os.environ.pop(MULTIPROC_ENV, None)
        os.environ.pop(MULTIPROC_ENV.lower(), None)
        return None, False
    if chosen is None:
        path, made_here = Path(tempfile.mkdtemp(prefix="loumo-metrics-")), True
    else:
        path, made_here = chosen, False
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.iterdir():  # a previous run's processes: their figures are over
            if _METRICS_FILE.match(stale.name):
                stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path.resolve())
    return path, made_here


def _run_uvicorn(settings: Settings, *, host: str, port: int, workers: int, reload: bool) -> None:
    uvicorn.run(
        "loumo.main:served_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        access_log=False,
        log_config=None,
        log_level=settings.log_level.lower(),
        # The app believes X-Forwarded-For only from TRUSTED_PROXIES (loumo.main); uvicorn's own
        # handling would trust every process on 127.0.0.1 (FORWARDED_ALLOW_IPS' default).
        proxy_headers=False,
        server_header=False,
        # SIGTERM: stop accepting, let requests in flight finish for this long, then cut them.
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations up to head."""
    from loumo.core.migrations import upgrade

    settings = _checked_settings()
    upgrade(settings.database_url)
    typer.echo("loumo: database migrated to head")


@app.command()
def worker(
    threads: Annotated[
        int | None, typer.Option(min=1, help="Jobs run at once (default JOBS_CONCURRENCY)")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port")
    ] = None,
) -> None:
    """Run background jobs: from the broker when BROKER_URL is set, else by polling the database."""
    # One process: its metrics stay in memory, apart from any API processes' shared directory.
    os.environ.pop(MULTIPROC_ENV, None)
    os.environ.pop(MULTIPROC_ENV.lower(), None)
    from loumo.core.logging import configure_logging
    from loumo.jobs.worker import run_worker
    from loumo.wiring import build

    settings = _checked_settings()
    configure_logging(settings.log_level)
    ports = build(settings)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from loumo.core.metrics import REGISTRY

        start_http_server(metrics_port, registry=REGISTRY)
    run_worker(settings, ports.job_modules, threads=threads or settings.jobs_concurrency)


jobs_app = typer.Typer(help="Inspect and retry background jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="pending, running, succeeded or dead")] = None,
    name: Annotated[str | None, typer.Option(help="Only jobs of this name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List jobs, newest first."""
    import asyncio

    from loumo.core.db import Database
    from loumo.jobs.models import JobStatus
    from loumo.jobs.service import list_jobs

    if status is not None and status not in JobStatus.ALL:
        typer.echo(f"loumo: unknown status {status!r} ({', '.join(JobStatus.ALL)})", err=True)
        raise typer.Exit(code=2)
    settings = _checked_settings()

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            jobs = await list_jobs(db.sessionmaker, status=status, name=name, limit=limit)
        finally:
            await db.dispose()
        for job in jobs:
            error = (job.last_error or "").strip().splitlines()
            typer.echo(
                f"{job.id}  {job.status:<9}  {job.name:<30}  attempts={job.attempts}/"
                f"{job.max_attempts}  run_at={job.run_at.isoformat()}"
                + (f"  error={error[-1][:120]}" if error else "")
            )

    asyncio.run(run())


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[str | None, typer.Argument(help="Id of a dead job")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Retry every dead job")] = False,
) -> None:
    """Give dead jobs a fresh set of attempts."""
    import asyncio

    from loumo.core.db import Database
    from loumo.jobs.service import retry_jobs

    if (job_id is None) == (not all_dead):
        typer.echo("loumo: give a job id or --all-dead", err=True)
        raise typer.Exit(code=2)
    settings = _checked_settings()

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            return await retry_jobs(db.sessionmaker, job_id=job_id, all_dead=all_dead)
        finally:
            await db.dispose()

    count = asyncio.run(run())
    if job_id is not None and count == 0:
        typer.echo(f"loumo: no dead job {job_id}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"loumo: {count} job(s) scheduled again")


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed unit of work on the configured database, ports wired."""
    from loumo.core.db import Database
    from loumo.wiring import build

    build(settings)

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
    demo: Annotated[
        bool, typer.Option("--demo", help="Demo users (one per role) and the demo catalog")
    ] = False,
    scale: Annotated[
        int | None, typer.Option("--scale", min=1, help="Add N generated products (benchmarks)")
    ] = None,
) -> None:
    """Load demo data (idempotent), and/or N generated products for benchmarks."""
    from loumo.accounts.seed import seed_demo_users
    from loumo.seed.run import run_seed

    if not demo and scale is None:
        typer.echo("loumo: nothing to seed; pass --demo and/or --scale N", err=True)
        raise typer.Exit(code=2)
    settings = _checked_settings()
    if demo and settings.is_production:
        typer.echo(
            "loumo: refusing to seed demo data in production: the demo accounts' passwords "
            "are published; create staff with `loumo create-admin`",
            err=True,
        )
        raise typer.Exit(code=2)
    users = _in_transaction(settings, seed_demo_users) if demo else []
    for line in asyncio.run(run_seed(settings.database_url, demo=demo, scale=scale)):
        typer.echo(f"loumo: {line}")
    if users:
        typer.echo("loumo: demo users (email / password):")
        for role, email, password in users:
            typer.echo(f"  {role:<15} {email:<28} {password}")


@app.command("settings-doc")
def settings_doc(
    check: Annotated[
        bool, typer.Option("--check", help="Only say whether it is up to date (exit 1 if not)")
    ] = False,
    file: Annotated[Path | None, typer.Option(help="The document (docs/operations.md)")] = None,
) -> None:
    """Regenerate the configuration reference of docs/operations.md from the settings."""
    from loumo.core import settings_doc as reference

    path = file or reference.DOC
    wanted = reference.refreshed(path)
    if wanted is None:
        return
    if check:
        typer.echo(
            f"{path}: the configuration reference is out of date; run `uv run loumo settings-doc`",
            err=True,
        )
        raise typer.Exit(1)
    path.write_text(wanted)
    typer.echo(f"{path}: configuration reference updated")


def main() -> None:
    app(prog_name="loumo")


if __name__ == "__main__":
    main()
