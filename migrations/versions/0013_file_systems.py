"""functions: FileSystemConfigs (shared volumes, the EFS analogue)

Revision ID: 0013_file_systems
Revises: 0012_mapping_options
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_file_systems"
down_revision = "0012_mapping_options"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("functions", "function_versions"):
        op.add_column(table, sa.Column("file_system_configs", sa.JSON, nullable=True))


def downgrade() -> None:
    for table in ("functions", "function_versions"):
        op.drop_column(table, "file_system_configs")
