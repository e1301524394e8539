"""Platform processes: up (everything on one machine), serve (API on gunicorn), worker, db."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lamina.config import Settings, process_environment


@click.command()
@click.option("--workers", type=int, default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", type=int, default=128, show_default=True,
              help="Threads per worker: a synchronous invoke holds one for its duration.")
def serve(workers: int, threads: int) -> None:
    """Serve the API (control plane, invoke, console) on gunicorn."""
    from gunicorn.app.base import BaseApplication

    settings = Settings.from_env()
    from lamina.store import db

    if settings.migrate_on_start:
        db.upgrade(settings.effective_database_url)

    multiproc = _prometheus_multiprocess(settings, workers)
    from lamina.logs import configure_logging

    configure_logging(settings)

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("timeout", 960)  # longer than the longest function timeout (900 s)
            self.cfg.set("keepalive", 75)
            self.cfg.set("accesslog", None)
            if multiproc:
                self.cfg.set("child_exit", _forget_metrics_of)

        def load(self) -> Any:
            from lamina.app import create_app

            return create_app(settings.with_(migrate_on_start=False,
                                             prometheus_multiproc_dir=multiproc))

    Server().run()


def _forget_metrics_of(_server: Any, worker: Any) -> None:
    """gunicorn child_exit: drop a dead worker's live gauges (concurrent executions) from /metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _prometheus_multiprocess(settings: Settings, workers: int) -> str | None:
    """Let /metrics add up every gunicorn worker: prometheus-client's multiprocess mode, in a fresh directory;
    return the directory (None: a single process, or one the operator set).

    Set before any worker imports prometheus_client (it reads the variable at import).
    """
    if settings.prometheus_multiproc_dir:
        return settings.prometheus_multiproc_dir
    if workers < 2:
        return None
    import shutil

    directory = settings.data_dir / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)  # for prometheus_client in the workers
    return str(directory)


@click.command()
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--processes", type=int, default=1, show_default=True, help="Worker processes to run.")
def worker(burst: bool, processes: int) -> None:
    """Run RQ workers for asynchronous invocations, schedules and event sources."""
    from lamina.logs import configure_logging
    from lamina.worker.main import run_processes

    settings = Settings.from_env()
    configure_logging(settings)
    run_processes(settings, processes, burst=burst)


@click.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    from lamina.store import db as store_db

    settings = Settings.from_env()
    store_db.upgrade(settings.effective_database_url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from lamina.store import db as store_db

    store_db.downgrade(Settings.from_env().effective_database_url, revision)
    click.echo(f"database at {revision}")


@click.command()
@click.option("--no-images", is_flag=True, help="Do not build missing runtime images.")
@click.option("--host", default=None, help="Address the API listens on (LAMINA_HOST; default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port the API listens on (LAMINA_PORT; default 9000).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where state, code and logs live (LAMINA_DATA_DIR; default ~/.lamina).")
def up(no_images: bool, host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Run the whole platform on this machine: API, scheduler and worker.

    With no LAMINA_DATABASE_URL / LAMINA_REDIS_URL it uses a SQLite file and a child redis-server
    under LAMINA_DATA_DIR (the embedded default). A flag wins over its variable.
    """
    flags = {"LAMINA_HOST": host, "LAMINA_PORT": None if port is None else str(port),
             "LAMINA_DATA_DIR": None if data_dir is None else str(data_dir.expanduser().resolve())}
    given = {name: value for name, value in flags.items() if value is not None}
    if host is not None and not host.strip():
        raise click.BadParameter("must be an address, e.g. 127.0.0.1 or 0.0.0.0", param_hint="--host")
    try:
        settings = Settings.from_env({**process_environment(), **given})
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from lamina.cli.supervisor import Child, Supervisor

    env = {**process_environment(), **given, "LAMINA_DATA_DIR": str(settings.data_dir),
           "LAMINA_MIGRATE_ON_START": "false"}
    children: list[Child] = []
    if not settings.redis_url:
        from lamina.embedded import EmbeddedRedisError, start_redis

        def embedded_redis() -> subprocess.Popen[bytes]:
            proc, _url = start_redis(settings.data_dir)  # the same socket and AOF each time
            return proc

        try:
            proc, url = start_redis(settings.data_dir)
        except EmbeddedRedisError as err:
            raise click.ClickException(str(err)) from None
        children.append(Child("redis-server", embedded_redis, proc=proc))
        env["LAMINA_REDIS_URL"] = url
        click.echo(f"embedded redis-server on {url}")
    env["LAMINA_DATABASE_URL"] = settings.effective_database_url
    if not settings.database_url:
        click.echo(f"embedded SQLite database at {settings.effective_database_url}")
    from lamina.store import db as store_db

    store_db.upgrade(env["LAMINA_DATABASE_URL"])
    from lamina.cli.admin import bootstrap_if_needed, credentials_file

    bootstrap_if_needed(settings.with_(database_url=env["LAMINA_DATABASE_URL"], redis_url=env["LAMINA_REDIS_URL"]))
    if not no_images:
        _build_images(settings)
    for command in ("serve", "scheduler", "worker"):
        argv = [sys.executable, "-m", "lamina", command]
        children.append(Child(command, _starter(argv, env)))
    click.echo(f"lamina is up: API on {settings.base_url}  (Ctrl-C stops it)")
    click.echo(f"  console: {settings.base_url}/console/  (log in with the admin key below)")
    creds = credentials_file(settings)
    click.echo(f"  credentials: the admin key is in {creds} (from `lamina admin bootstrap` on a new install);")
    click.echo("  more: lamina admin create-account|create-user|create-key")
    click.echo(f"  try: LAMINA_TOKEN=<AccessKeyId>:<SecretAccessKey> lamina functions list "
               f"--endpoint {settings.base_url}")
    try:
        Supervisor(children, echo=lambda line: click.echo(line, err=True)).run()
    finally:
        _remove_containers(settings)


def _remove_containers(settings: Settings) -> None:
    """`lamina up` is the whole platform: when it stops, its environments and sandboxes go too (scale to
    zero); a multi-host scheduler instead adopts or removes them at its next start."""
    try:
        import docker

        from lamina.executor.docker_env import DockerEnv

        executor = DockerEnv(docker.from_env())
        left = executor.list_managed(settings.instance)
    except Exception:  # noqa: BLE001 - no Docker engine: nothing was started
        return
    for container in left:
        executor.remove(container.container_id)
    if left:
        click.echo(f"removed {len(left)} containers of instance {settings.instance}", err=True)


def _build_images(settings: Settings) -> None:
    try:
        import docker

        from lamina.executor.images import ensure_images

        client = docker.from_env()
        client.ping()
    except Exception as err:  # noqa: BLE001 - any failure here means "no Docker": say so and go on
        click.echo(f"warning: Docker engine not reachable ({err}); functions cannot run until it is", err=True)
        return
    ensure_images(client, settings, log=lambda msg: click.echo(msg, err=True))


def _starter(argv: list[str], env: dict[str, str]) -> Callable[[], subprocess.Popen[bytes]]:
    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, env=env)

    return start
