"""Shared fixtures: a real PostgreSQL database, a real Redis and (for execution tests) a real Docker engine.

`scripts/test` starts throw-away PostgreSQL and Redis servers and exports LAMINA_TEST_DATABASE_URL and
LAMINA_TEST_REDIS_URL; running pytest without them stops at once with a message saying so.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
import sqlalchemy as sa
from lamina.app import create_app
from lamina.config import Settings
from lamina.store import db
from lamina.wiring import Components, build_components
from support.databases import drop_database, make_database
from werkzeug.serving import make_server

SESSION_TAG = uuid.uuid4().hex[:8]
INSTANCE = f"test-{SESSION_TAG}"  # the lamina.instance label of every container this session starts


@pytest.fixture(scope="session", autouse=True)
def _no_container_outlives_the_session() -> Iterator[None]:
    """Torn down last: no container of this session's instance (environment or network sandbox) may be
    left, whichever test started it. (Tests that run functions also check for leaks after each test.)"""
    yield
    import docker

    try:
        client = docker.from_env()
        left = client.api.containers(all=True, filters={"label": f"lamina.instance={INSTANCE}"})
    except docker.errors.DockerException:
        return  # no Docker engine: nothing can have been started
    for c in left:
        client.api.remove_container(c["Id"], force=True)
    client.close()
    assert not left, f"containers left at the end of the session: {[c['Names'] for c in left]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart the Docker engine run last: every other test keeps clients and containers of the
    session's engine, and a restarted engine is slow to answer for a while."""
    items.sort(key=lambda item: item.get_closest_marker("engine_restart") is not None)


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite with scripts/test (it starts PostgreSQL and Redis)", 2)
    return value


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    # One database per pytest session, so two runs on one server never wipe each other's tables.
    admin = _require("LAMINA_TEST_DATABASE_URL")
    name = f"lamina_test_{SESSION_TAG}"
    url = make_database(admin, name)
    db.upgrade(url)
    yield url
    drop_database(admin, name)


@pytest.fixture(scope="session")
def redis_url() -> str:
    base = _require("LAMINA_TEST_REDIS_URL")
    return base.rsplit("/", 1)[0] + "/1"


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("lamina-data")
    return Settings.from_env({}).with_(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        instance=INSTANCE,
        migrate_on_start=False,
        # Stem cells off unless a test turns them on (tests/execution/test_stem_cells.py): a test's
        # containers are then exactly the ones it started.
        stem_cells=0,
    )


@pytest.fixture(scope="session")
def components(settings: Settings) -> Iterator[Components]:
    comps = build_components(settings, migrate=False)
    yield comps
    comps.close()


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> None:
    """Each test starts from empty tables and an empty Redis database."""
    if "components" not in request.fixturenames:
        return
    comps: Components = request.getfixturevalue("components")
    with comps.engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in reversed(_metadata().sorted_tables))
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    comps.redis.flushdb()


def _metadata() -> sa.MetaData:
    from lamina.store.models import Base

    return Base.metadata


@pytest.fixture
def redis(components: Components) -> redis_lib.Redis:
    return components.redis


@pytest.fixture
def credentials(components: Components):  # type: ignore[no-untyped-def]
    """A real account (the configured default one), an admin user and a fresh access key."""
    from lamina.services.iam import iam

    return iam.ensure_account_user_key(components, components.settings.account_id, "default", "tester", admin=True)


@pytest.fixture
def app(components: Components, credentials):  # type: ignore[no-untyped-def]
    from support.auth import authenticated_client_class

    app = create_app(components=components)
    app.config["TESTING"] = True
    # Every test client of this app sends the test key as a bearer token (support.auth).
    app.test_client_class = authenticated_client_class(credentials)
    return app


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


class LiveServer:
    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


@pytest.fixture
def live_server(app, credentials, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    # The CLI (`--token`, LAMINA_TOKEN) authenticates with the test key.
    monkeypatch.setenv("LAMINA_TOKEN", f"{credentials.access_key_id}:{credentials.secret_access_key}")
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def lambda_client(live_server: LiveServer, credentials):  # type: ignore[no-untyped-def]
    """boto3's own lambda client pointed at lamina, signing (SigV4) with the test key."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=live_server.url,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(read_timeout=910, retries={"max_attempts": 1}),
    )


@pytest.fixture
def aws_client(live_server: LiveServer, credentials):  # type: ignore[no-untyped-def]
    """A factory of boto3's own clients of any service lamina serves (sqs, kinesis, logs), signing with the
    test key for that service."""
    import boto3
    from botocore.config import Config

    def make(service: str, **config: object):  # type: ignore[no-untyped-def]
        return boto3.client(
            service, endpoint_url=live_server.url, region_name="us-east-1",
            aws_access_key_id=credentials.access_key_id, aws_secret_access_key=credentials.secret_access_key,
            config=Config(read_timeout=60, retries={"max_attempts": 1}, **config),
        )

    return make

