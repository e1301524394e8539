"""functions, published versions, aliases and event-invoke configs

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def config_columns() -> list[sa.Column]:
    """The columns FunctionVersion shares with Function (lamina.store.models.ConfigColumns)."""
    return [
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("role", sa.String(2048), nullable=False),
        sa.Column("runtime", sa.String(64)),
        sa.Column("handler", sa.String(128)),
        sa.Column("package_type", sa.String(16), nullable=False),
        sa.Column("image_uri", sa.String(512)),
        sa.Column("image_config", sa.JSON()),
        sa.Column("memory_size", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("ephemeral_storage", sa.Integer(), nullable=False),
        sa.Column("architectures", sa.JSON(), nullable=False),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("layers", sa.JSON(), nullable=False),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("code_size", sa.BigInteger(), nullable=False),
        sa.Column("unzipped_size", sa.BigInteger(), nullable=False),
        sa.Column("code_key", sa.String(64)),
        sa.Column("revision_id", sa.String(36), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "functions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("reserved_concurrency", sa.Integer()),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        *config_columns(),
        sa.UniqueConstraint("account_id", "name", name="uq_functions_account_id"),
    )
    op.create_table(
        "function_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("function_id", sa.Integer(), sa.ForeignKey("functions.id", ondelete="CASCADE",
                  name="fk_function_versions_function_id_functions"), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *config_columns(),
        sa.UniqueConstraint("function_id", "version", name="uq_function_versions_function_id"),
    )
    op.create_table(
        "aliases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("function_id", sa.Integer(), sa.ForeignKey("functions.id", ondelete="CASCADE",
                  name="fk_aliases_function_id_functions"), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("function_version", sa.String(16), nullable=False),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.Column("revision_id", sa.String(36), nullable=False),
        sa.UniqueConstraint("function_id", "name", name="uq_aliases_function_id"),
    )
    op.create_table(
        "event_invoke_configs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("function_id", sa.Integer(), sa.ForeignKey("functions.id", ondelete="CASCADE",
                  name="fk_event_invoke_configs_function_id_functions"), nullable=False, index=True),
        sa.Column("qualifier", sa.String(128), nullable=False),
        sa.Column("maximum_retry_attempts", sa.Integer()),
        sa.Column("maximum_event_age_s", sa.Integer()),
        sa.Column("destination_config", sa.JSON(), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("function_id", "qualifier", name="uq_event_invoke_configs_function_id"),
    )


def downgrade() -> None:
    op.drop_table("event_invoke_configs")
    op.drop_table("aliases")
    op.drop_table("function_versions")
    op.drop_table("functions")
