"""triggers: schedules, event source mappings, function URLs

Revision ID: 0003_triggers
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_triggers"
down_revision = "0002"
branch_labels = None
depends_on = None


def _function_fk(table: str) -> sa.Column:
    return sa.Column("function_id", sa.Integer(), sa.ForeignKey(
        "functions.id", ondelete="CASCADE", name=f"fk_{table}_function_id_functions"), nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        _function_fk("schedules"),
        sa.Column("qualifier", sa.String(128), nullable=True),
        sa.Column("expression", sa.String(256), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(512), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "name", name="uq_schedules_account_id"),
    )
    op.create_table(
        "event_source_mappings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False, index=True),
        _function_fk("event_source_mappings"),
        sa.Column("qualifier", sa.String(128), nullable=True),
        sa.Column("event_source_arn", sa.String(256), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("maximum_batching_window_s", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("function_response_types", sa.JSON(), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("uuid", name="uq_event_source_mappings_uuid"),
    )
    op.create_table(
        "function_urls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url_id", sa.String(40), nullable=False),
        _function_fk("function_urls"),
        sa.Column("qualifier", sa.String(128), nullable=False),
        sa.Column("auth_type", sa.String(16), nullable=False),
        sa.Column("cors", sa.JSON(), nullable=True),
        sa.Column("invoke_mode", sa.String(16), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("url_id", name="uq_function_urls_url_id"),
        sa.UniqueConstraint("function_id", "qualifier", name="uq_function_urls_function_id"),
    )


def downgrade() -> None:
    op.drop_table("function_urls")
    op.drop_table("event_source_mappings")
    op.drop_table("schedules")
