"""The loopback cluster: N `loumo serve` processes behind HAProxy, M `loumo worker` processes.

The production shape on one machine, for trying it, for fault tests and for benchmarks:

- HAProxy (Debian's package, installed with apt-get when missing) on the proxy port, balancing
  the API processes and health-checking each on `/readyz`;
- N API processes (`loumo serve`, one uvicorn process each) and M job workers (`loumo worker`);
- the machine's PostgreSQL (a database of the cluster's own, migrated and optionally seeded with
  the demo data), Redis (rate limits, under a key prefix of the cluster's own), RabbitMQ (the job
  broker, on a queue of the cluster's own);
- an S3 server (moto's) for media, in a bucket the launcher creates.

Nothing here reconfigures or stops the shared PostgreSQL, Redis or RabbitMQ servers. State,
pid files and logs live in the state directory (`var/cluster/` by default): `state.json` names
every process the launcher started, so that `stop()` (or `python -m ops.cluster down`, from
another shell) stops exactly those, and no other process that got one of their pids since.

    python -m ops.cluster up      # what `make cluster` runs; prints the proxy URL
    python -m ops.cluster down    # what `make cluster-down` runs
    python -m ops.cluster status

From Python (tests, benchmarks): `with running(ClusterConfig(...)) as cluster: cluster.url`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from ops.loopback import answers_200, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
STATE_FILE = "state.json"
# How long to wait for a process to start or stop. A bound on a hang, not a timing: a loaded
# two-core machine was seen taking 40 s to import the app.
DEFAULT_TIMEOUT = 300.0


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass
class ClusterConfig:
    """What to start, and where. Defaults are those of `make cluster`; every CLUSTER_* variable
    of the environment overrides its default."""

    state_dir: Path = field(default_factory=lambda: REPO_ROOT / "var" / "cluster")
    api: int = 3
    workers: int = 2
    proxy_port: int = field(default_factory=lambda: int(_env("CLUSTER_PORT", "8080")))  # 0: free
    # The cluster's database, created on the PostgreSQL server that `postgres_url` reaches.
    database: str = field(default_factory=lambda: _env("CLUSTER_DATABASE", "loumo_cluster"))
    postgres_url: str = field(
        default_factory=lambda: _env(
            "CLUSTER_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        )
    )
    fresh_database: bool = False  # drop and recreate the database first
    drop_database_on_stop: bool = False
    seed_demo: bool = True
    redis_url: str = field(
        default_factory=lambda: _env("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/3")
    )
    rate_limit_prefix: str = "loumo-cluster"
    broker_url: str = field(
        default_factory=lambda: _env("CLUSTER_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    jobs_queue: str = "loumo.cluster"
    s3_bucket: str = "loumo-media"
    worker_threads: int = 4
    # Connections per process (pool + overflow): the machine's PostgreSQL takes 100 in all, and
    # is shared with whatever else runs there.
    db_pool_size: int = 10
    db_max_overflow: int = 0
    api_log_level: str = "WARNING"
    # More environment for every Loumo process (e.g. JOBS_LEASE_SECONDS for a fault test).
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class Process:
    """One process the launcher started: its role, pid, start time (to tell a reused pid) and
    log; `url` for API processes."""

    role: str  # "api", "worker", "proxy" or "s3"
    name: str
    pid: int
    started: int
    log: str
    url: str | None = None

    def alive(self) -> bool:
        return _start_time(self.pid) == self.started

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the process (`kill -9` by default) if it is still the one started."""
        if self.alive():
            os.kill(self.pid, sig)


@dataclass
class Cluster:
    """A running cluster: the proxy's URL, the database's, S3's, and every process."""

    config: ClusterConfig
    url: str
    database_url: str
    s3_endpoint: str
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)
    _popen: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    def of(self, role: str) -> list[Process]:
        return [p for p in self.processes if p.role == role]

    @property
    def api(self) -> list[Process]:
        return self.of("api")

    @property
    def workers(self) -> list[Process]:
        return self.of("worker")

    def reap(self) -> None:
        """Collect the exit status of children that ended (so they do not linger as zombies)."""
        for popen in self._popen.values():
            popen.poll()

    def wait_dead(self, process: Process, timeout: float | None = None) -> None:
        """Wait until `process` has exited (after `kill`)."""
        _wait_gone([process], self._popen, timeout or self.config.timeout)

    def save(self) -> None:
        state = {
            "url": self.url,
            "database_url": self.database_url,
            "s3_endpoint": self.s3_endpoint,
            "processes": [asdict(p) for p in self.processes],
        }
        path = self.config.state_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)
        for p in self.processes:
            (self.config.state_dir / f"{p.name}.pid").write_text(f"{p.pid}\n")


# --- processes ------------------------------------------------------------------------------


def _start_time(pid: int) -> int | None:
    """The start time of process `pid` (clock ticks since boot), None when it is gone or a
    zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _spawn(
    cluster: Cluster, role: str, name: str, argv: list[str], env: dict[str, str], url: str | None
) -> Process:
    log = cluster.config.state_dir / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cluster.config.state_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `make cluster`, and a Ctrl-C of the shell
        )
    started = _start_time(popen.pid)
    process = Process(role, name, popen.pid, started or 0, str(log), url)
    cluster.processes.append(process)
    cluster._popen[popen.pid] = popen
    cluster.save()
    return process


def _log_tail(process: Process) -> str:
    try:
        return Path(process.log).read_text(errors="replace")[-3000:]
    except FileNotFoundError:
        return ""


def _wait_until(
    what: str, check: Any, processes: list[Process], cluster: Cluster, deadline: float
) -> None:
    while not check():
        cluster.reap()
        for process in processes:
            if not process.alive():
                raise RuntimeError(f"cluster: {process.name} exited:\n{_log_tail(process)}")
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{_log_tail(p)}" for p in processes)
            raise RuntimeError(f"cluster: {what} did not happen in time\n{tails}")
        time.sleep(0.1)


def _wait_gone(
    processes: list[Process], popen: dict[int, subprocess.Popen[bytes]], timeout: float
) -> list[Process]:
    """Wait until every process has exited; returns those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        for child in popen.values():
            child.poll()
        left = [p for p in processes if p.alive()]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _terminate(
    processes: list[Process], popen: dict[int, subprocess.Popen[bytes]], timeout: float
) -> None:
    """SIGTERM (graceful: in-flight requests and jobs finish), then SIGKILL past `timeout`."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            process.kill(signal.SIGTERM)
    for process in _wait_gone(processes, popen, timeout):
        with contextlib.suppress(ProcessLookupError):
            process.kill(signal.SIGKILL)
    _wait_gone(processes, popen, 10)


# --- services -------------------------------------------------------------------------------


def haproxy_binary() -> str:
    """HAProxy from Debian's package: installed with apt-get when missing."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    print("cluster: installing haproxy (apt-get install -y haproxy)", file=sys.stderr)
    install = ["apt-get", "install", "-y", "-q", "haproxy"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("cluster: haproxy is not available (apt-get install haproxy)")
    return found


def haproxy_config(port: int, servers: list[tuple[str, str]]) -> str:
    """Round robin over the API processes, each checked on `/readyz` every second: taken out
    at once when a connection to it fails (a dead process), or after three failed checks; a
    slow answer under load (up to 10 s) is not a failure. A request whose connection fails is
    sent to another server; one that was sent is never replayed by the proxy (a POST may have
    taken effect: clients retry with their Idempotency-Key)."""
    lines = [
        "global",
        "    maxconn 4096",
        "    log stdout format raw local0 notice",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        "    timeout connect 5s",
        "    timeout client 120s",
        "    timeout server 120s",
        "    timeout http-keep-alive 30s",
        "    retries 3",
        "    option redispatch",
        "    option forwardfor",
        "frontend loumo",
        f"    bind 127.0.0.1:{port}",
        "    default_backend api",
        "backend api",
        "    balance roundrobin",
        "    option httpchk GET /readyz",
        "    http-check expect status 200",
        "    timeout check 10s",
        "    default-server inter 1s fall 3 rise 1 observe layer4 error-limit 1 on-error mark-down",
    ]
    lines += [f"    server {name} {address} check" for name, address in servers]
    return "\n".join(lines) + "\n"


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_database(postgres_url: str, name: str, fresh: bool) -> None:
    connection = await asyncpg.connect(_admin_dsn(postgres_url))
    try:
        if fresh:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(postgres_url: str, name: str) -> None:
    connection = await asyncpg.connect(_admin_dsn(postgres_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def _secret_key(state_dir: Path) -> str:
    """One signing key for every process (each would otherwise generate its own)."""
    path = state_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _create_bucket(endpoint: str, bucket: str) -> None:
    """The media bucket, publicly readable."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="cluster",
        aws_secret_access_key="cluster",  # noqa: S106 (moto accepts any credentials)
    )
    client.create_bucket(Bucket=bucket)
    # Media URLs are public (S3_PUBLIC_BASE_URL): anyone may read the bucket's objects.
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read))


def _loumo(*args: str) -> list[str]:
    return [sys.executable, "-m", "loumo", *args]


# --- start and stop -------------------------------------------------------------------------


def start(config: ClusterConfig, *, echo: bool = False) -> Cluster:
    """Start the whole cluster and return once the proxy serves a ready API; on any failure,
    stop what was started and raise."""
    state_dir = config.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    if (state_dir / STATE_FILE).exists():
        stop(state_dir, timeout=config.timeout)  # what an earlier run left behind
    say = print if echo else (lambda *_: None)
    haproxy = haproxy_binary()
    deadline = time.monotonic() + config.timeout
    proxy_port = config.proxy_port or free_port()
    database_url = make_url(config.postgres_url).set(database=config.database)
    s3_port = free_port()
    cluster = Cluster(
        config=config,
        url=f"http://127.0.0.1:{proxy_port}",
        database_url=database_url.render_as_string(hide_password=False),
        s3_endpoint=f"http://127.0.0.1:{s3_port}",
        env={},
    )
    cluster.env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATABASE_URL": cluster.database_url,
        "DB_POOL_SIZE": str(config.db_pool_size),
        "DB_MAX_OVERFLOW": str(config.db_max_overflow),
        "SECRET_KEY": _secret_key(state_dir),
        "VAR_DIR": str(state_dir / "var"),
        "MAIL_DIR": str(state_dir / "mail"),
        "REDIS_URL": config.redis_url,
        "RATE_LIMIT_PREFIX": config.rate_limit_prefix,
        "BROKER_URL": config.broker_url,
        "JOBS_QUEUE": config.jobs_queue,
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": config.s3_bucket,
        "S3_ENDPOINT_URL": cluster.s3_endpoint,
        "S3_ACCESS_KEY_ID": "cluster",
        "S3_SECRET_ACCESS_KEY": "cluster",
        "S3_PUBLIC_BASE_URL": f"{cluster.s3_endpoint}/{config.s3_bucket}",
        "TRUSTED_PROXIES": "127.0.0.1",
        "PUBLIC_BASE_URL": cluster.url,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
        **config.env,
    }
    try:
        say(f"cluster: database {config.database}")
        asyncio.run(_create_database(config.postgres_url, config.database, config.fresh_database))
        subprocess.run(_loumo("migrate"), env=cluster.env, cwd=REPO_ROOT, check=True)
        if config.seed_demo:
            seeded = subprocess.run(
                _loumo("seed", "--demo"),
                env=cluster.env,
                cwd=REPO_ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            say(seeded.stdout.rstrip())

        say(f"cluster: S3 (moto) on {cluster.s3_endpoint}")
        moto = [sys.executable, "-c", "from moto.server import main; main()"]
        s3 = _spawn(
            cluster, "s3", "s3", [*moto, "-H", "127.0.0.1", "-p", str(s3_port)], cluster.env, None
        )
        _wait_until("the S3 server to listen", lambda: _listens(s3_port), [s3], cluster, deadline)
        _create_bucket(cluster.s3_endpoint, config.s3_bucket)

        api_env = {"LOG_LEVEL": config.api_log_level, **cluster.env}
        servers = []
        for i in range(config.api):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            argv = _loumo("serve", "--host", "127.0.0.1", "--port", str(port))
            _spawn(cluster, "api", f"api{i}", argv, api_env, url)
            servers.append((f"api{i}", f"127.0.0.1:{port}"))
        worker_env = {"LOG_LEVEL": "INFO", **cluster.env}
        for i in range(config.workers):
            argv = _loumo("worker", "--threads", str(config.worker_threads))
            _spawn(cluster, "worker", f"worker{i}", argv, worker_env, None)
        say(f"cluster: {config.api} API processes, {config.workers} workers starting")
        for process in cluster.api:
            url = f"{process.url}/readyz"
            _wait_until(
                f"{process.name} ready", lambda u=url: answers_200(u), [process], cluster, deadline
            )
        for process in cluster.workers:
            log = Path(process.log)
            _wait_until(
                f"{process.name} started",
                lambda log=log: b"worker_started" in log.read_bytes(),
                [process],
                cluster,
                deadline,
            )

        config_path = state_dir / "haproxy.cfg"
        config_path.write_text(haproxy_config(proxy_port, servers))
        proxy = _spawn(
            cluster, "proxy", "haproxy", [haproxy, "-db", "-f", str(config_path)], cluster.env, None
        )
        _wait_until(
            "the proxy to serve /readyz",
            lambda: answers_200(f"{cluster.url}/readyz") and _all_servers_up(cluster),
            [proxy],
            cluster,
            deadline,
        )
    except BaseException:
        _stop_cluster(cluster)
        raise
    say(f"cluster: ready at {cluster.url} (state and logs in {state_dir})")
    return cluster


def _listens(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _all_servers_up(cluster: Cluster) -> bool:
    """Every API process answers through the proxy (its first health checks passed)."""
    return all(answers_200(f"{p.url}/readyz") for p in cluster.api)


def _stop_cluster(cluster: Cluster) -> None:
    """Proxy first (no new requests), then API processes and workers (graceful), then S3."""
    for role in ("proxy", "api", "worker", "s3"):
        _terminate(cluster.of(role), cluster._popen, cluster.config.timeout)
    (cluster.config.state_dir / STATE_FILE).unlink(missing_ok=True)
    for process in cluster.processes:
        (cluster.config.state_dir / f"{process.name}.pid").unlink(missing_ok=True)
    if cluster.config.drop_database_on_stop:
        asyncio.run(_drop_database(cluster.config.postgres_url, cluster.config.database))


def stop(state_dir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> list[Process]:
    """Stop every process that `state_dir/state.json` names (only those still the processes
    started: a pid reused since is left alone); returns them."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return []
    state = json.loads(path.read_text())
    processes = [Process(**p) for p in state["processes"]]
    for role in ("proxy", "api", "worker", "s3"):
        _terminate([p for p in processes if p.role == role], {}, timeout)
    path.unlink()
    for process in processes:
        (state_dir / f"{process.name}.pid").unlink(missing_ok=True)
    return processes


@contextlib.contextmanager
def running(config: ClusterConfig) -> Iterator[Cluster]:
    """Start the cluster, yield it, stop everything it started (and drop its database when
    `config.drop_database_on_stop`)."""
    cluster = start(config)
    try:
        yield cluster
    finally:
        _stop_cluster(cluster)


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.cluster", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--api", type=int, default=3, help="API processes (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="job workers (default 2)")
    parser.add_argument("--port", type=int, default=None, help="proxy port (default 8080)")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    args = parser.parse_args(argv)
    config = ClusterConfig(api=args.api, workers=args.workers, fresh_database=args.fresh)
    if args.port is not None:
        config.proxy_port = args.port
    if args.command == "up":
        cluster = start(config, echo=True)
        print(cluster.url)
        return 0
    if args.command == "down":
        stopped = stop(config.state_dir, timeout=config.timeout)
        print(f"cluster: stopped {len(stopped)} processes" if stopped else "cluster: not running")
        return 0
    path = config.state_dir / STATE_FILE
    if not path.exists():
        print("cluster: not running")
        return 1
    state = json.loads(path.read_text())
    print(f"proxy: {state['url']}  database: {state['database_url']}  S3: {state['s3_endpoint']}")
    for p in state["processes"]:
        alive = "running" if Process(**p).alive() else "gone"
        print(f"  {p['name']:<10} pid {p['pid']:<8} {alive:<8} {p.get('url') or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
