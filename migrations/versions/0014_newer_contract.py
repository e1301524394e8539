"""functions: LoggingConfig and TenancyConfig (versioned), the recursion setting (per function)

Revision ID: 0014_newer_contract
Revises: 0013_file_systems
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_newer_contract"
down_revision = "0013_file_systems"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("functions", "function_versions"):
        op.add_column(table, sa.Column("logging_config", sa.JSON, nullable=True))
        op.add_column(table, sa.Column("tenancy_config", sa.JSON, nullable=True))
    op.add_column("functions", sa.Column("recursive_loop", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("functions", "recursive_loop")
    for table in ("functions", "function_versions"):
        op.drop_column(table, "tenancy_config")
        op.drop_column(table, "logging_config")
