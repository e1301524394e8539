"""Alembic migrations on a fresh PostgreSQL database: empty -> head, down one step, up again."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from lamina.store import db
from lamina.store.models import Base
from support.databases import make_database


@pytest.fixture
def fresh_url():
    url = make_database(os.environ["LAMINA_TEST_DATABASE_URL"], "lamina_migrations_test")
    yield url
    admin = sa.create_engine(os.environ["LAMINA_TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "lamina_migrations_test" WITH (FORCE)'))
    admin.dispose()


def _state(url: str) -> tuple[str | None, dict[str, frozenset[str]]]:
    """The current revision and the schema as {table: columns and index names}."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rev = MigrationContext.configure(conn).get_current_revision()
            insp = sa.inspect(conn)
            schema = {
                t: frozenset([c["name"] for c in insp.get_columns(t)]
                             + [f"ix:{i['name']}" for i in insp.get_indexes(t)])
                for t in insp.get_table_names() if t != "alembic_version"
            }
            return rev, schema
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(fresh_url):
    script = ScriptDirectory.from_config(db.alembic_config(fresh_url))
    head = script.get_current_head()
    previous = script.get_revision(head).down_revision
    assert _state(fresh_url) == (None, {})

    db.upgrade(fresh_url)
    rev, schema = _state(fresh_url)
    assert rev == head
    assert set(Base.metadata.tables) <= set(schema)

    db.downgrade(fresh_url, "-1")
    rev, schema_down = _state(fresh_url)
    assert rev == previous
    assert schema_down != schema

    db.upgrade(fresh_url)
    assert _state(fresh_url) == (head, schema)


def test_models_match_the_migrated_schema(fresh_url):
    db.upgrade(fresh_url)
    engine = sa.create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diffs == []
