"""event source mappings: stream and queue options (starting position, retries, bisect, parallelization,
on-failure destination, maximum concurrency, filters)

Revision ID: 0012_mapping_options
Revises: 0011_provisioned_concurrency
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_mapping_options"
down_revision = "0011_provisioned_concurrency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("event_source_mappings", sa.Column("options", sa.JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    op.drop_column("event_source_mappings", "options")
