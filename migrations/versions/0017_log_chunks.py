"""log_chunks, log_group_settings: function logs in PostgreSQL, for API hosts that share no file system

Revision ID: 0017_log_chunks
Revises: 0016_deployments
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_log_chunks"
down_revision = "0016_deployments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(12), nullable=False, index=True),
        sa.Column("group_key", sa.String(1600), nullable=False),
        sa.Column("stream", sa.String(128), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "log_group_settings",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("group_key", sa.String(1600), primary_key=True),
        sa.Column("retention_days", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_group_settings")
    op.drop_table("log_chunks")
