"""Alembic migrations on a fresh PostgreSQL database: empty -> head, down one step, up again."""

from __future__ import annotations

import json
import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from lamina.store import db
from lamina.store.models import Base
from support.databases import make_database

# Migrations that change rows, not the schema.
DATA_ONLY = {"0006_trigger_grants"}


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
    assert schema_down != schema or head in DATA_ONLY

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


def test_existing_triggers_get_the_statements_they_now_need(fresh_url):
    """0006: schedules, queue mappings and public URLs made before triggers checked their permission."""
    db.upgrade(fresh_url, "0005_account_quotas")
    engine = sa.create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            fid = conn.execute(sa.text(
                "INSERT INTO functions (account_id, name, description, role, package_type, memory_size, timeout, "
                "ephemeral_storage, architectures, environment, layers, code_sha256, code_size, unzipped_size, "
                "revision_id, last_modified, tags, last_version, created) VALUES ('000000000000', 'old', '', "
                "'arn:aws:iam::000000000000:role/r', 'Zip', 128, 3, 512, '[]', '{}', '[]', '', 0, 0, 'r1', now(), "
                "'{}', 0, now()) RETURNING id")).scalar_one()
            conn.execute(sa.text(
                "INSERT INTO schedules (account_id, name, function_id, qualifier, expression, enabled, description, "
                "created, last_modified) VALUES ('000000000000', 'nightly', :f, NULL, 'rate(1 day)', true, '', "
                "now(), now())"), {"f": fid})
            conn.execute(sa.text(
                "INSERT INTO event_source_mappings (uuid, account_id, function_id, qualifier, event_source_arn, "
                "batch_size, maximum_batching_window_s, enabled, function_response_types, last_modified) VALUES "
                "('u-1', '000000000000', :f, NULL, 'arn:aws:sqs:us-east-1:000000000000:q', 10, 0, true, '[]', "
                "now())"), {"f": fid})
            conn.execute(sa.text(
                "INSERT INTO function_urls (url_id, function_id, qualifier, auth_type, invoke_mode, creation_time, "
                "last_modified) VALUES ('x1', :f, '', 'NONE', 'BUFFERED', now(), now())"), {"f": fid})
        db.upgrade(fresh_url)
        with engine.connect() as conn:
            got = dict(conn.execute(sa.text("SELECT sid, statement FROM policy_statements")).all())
        assert set(got) == {"lamina-schedule-nightly", "lamina-esm-u-1", "FunctionURLAllowPublicAccess"}
        schedule = got["lamina-schedule-nightly"]
        schedule = schedule if isinstance(schedule, dict) else json.loads(schedule)
        assert schedule["Principal"] == {"Service": "events.lamina"}
        assert schedule["Condition"]["ArnLike"]["AWS:SourceArn"] == \
            "arn:aws:events:us-east-1:000000000000:rule/nightly"
        db.downgrade(fresh_url, "0005_account_quotas")
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM policy_statements")).scalar_one() == 0
    finally:
        engine.dispose()
