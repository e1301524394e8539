"""Components: builds the connections (database, Redis, code store, Docker) from Settings.

Only composition roots (``create_app``, the worker and CLI entry points) call ``build_components``;
everything below receives what it needs as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lamina.config import Settings
from lamina.store import db
from lamina.store.codestore import CodeStore, DatabaseCodeStore, LocalCodeStore

RedisClient = redis.Redis

# Longer than RQ's blocking dequeue (worker_ttl 420 s - 15) plus its own 10 s margin.
WORKER_SOCKET_TIMEOUT_S = 430


@dataclass
class Components:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    code_store: CodeStore
    extras: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def docker(self) -> Any:
        """The Docker client, made on first use so control-plane-only processes never need dockerd."""
        import docker

        return docker.from_env(timeout=120)

    @cached_property
    def worker_redis(self) -> RedisClient:
        """A Redis client for RQ's blocking dequeue (BLMOVE for up to RQ's dequeue timeout, 405 s).

        redis-py 8 gives every connection a 5 s socket timeout; RQ raises it only for connections made after
        its worker starts, and a connection another thread made before (the ticker's, the lease keeper's)
        then times out under the dequeue: the worker logs "could not connect to Redis instance: Timeout
        reading from socket" and backs off for up to 60 s, delaying every event accepted meanwhile.
        """
        return redis_client(str(self.settings.redis_url), socket_timeout=WORKER_SOCKET_TIMEOUT_S)

    @cached_property
    def queue(self) -> Any:
        """The RQ queue of asynchronous work (events, destinations); services get it handed in."""
        from rq import Queue

        from lamina.services.events.events import QUEUE_NAME

        return Queue(QUEUE_NAME, connection=self.redis)

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()
        if "worker_redis" in self.__dict__:
            self.worker_redis.close()


def redis_client(url: str, **options: Any) -> redis.Redis:
    """A client of ``url``: ``redis://`` / ``rediss://`` / ``unix://``, or a Sentinel-watched master as
    ``redis+sentinel://host:port[,host:port...]/<master name>[/<db>]`` (redis-py's Sentinel finds the master
    and, after a failover, the new one: every command that fails on the old one reconnects)."""
    if not url.startswith("redis+sentinel://"):
        return redis.Redis.from_url(url, **options)
    from urllib.parse import unquote, urlsplit

    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry
    from redis.sentinel import Sentinel

    parts = urlsplit(url)
    hosts = []
    for item in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = item.rpartition(":")
        hosts.append((host or item, int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("LAMINA_REDIS_URL redis+sentinel:// needs the master's name: .../<master name>[/<db>]")
    password = unquote(parts.password) if parts.password else None
    sentinel = Sentinel(hosts, socket_timeout=1.0, password=password)
    return sentinel.master_for(path[0], db=int(path[1]) if len(path) > 1 else 0, password=password,
                               retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 20),
                               retry_on_error=[redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError],
                               **{"socket_timeout": 5.0, **options})


def build_components(settings: Settings, migrate: bool | None = None) -> Components:
    url = settings.effective_database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if migrate if migrate is not None else settings.migrate_on_start:
        db.upgrade(url)
    engine = db.make_engine(url)
    # Environment variables are encrypted at rest under the master key (issue 5).
    from lamina.services.iam import secrets
    from lamina.store import crypto

    crypto.install(secrets.cipher(settings))
    if not settings.redis_url:
        raise RuntimeError("LAMINA_REDIS_URL is not set; `lamina up` starts an embedded redis-server for you")
    sessions = db.make_sessionmaker(engine)
    code_store: CodeStore = (DatabaseCodeStore(sessions, settings.code_dir) if settings.code_store == "postgres"
                             else LocalCodeStore(settings.code_dir))
    return Components(
        settings=settings,
        engine=engine,
        sessions=sessions,
        redis=redis_client(settings.redis_url),
        code_store=code_store,
    )
