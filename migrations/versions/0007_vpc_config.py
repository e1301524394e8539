"""vpc config: a function version's VpcConfig (Docker networks it attaches to, or none at all)

Revision ID: 0007_vpc_config
Revises: 0006_trigger_grants
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_vpc_config"
down_revision = "0006_trigger_grants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("functions", "function_versions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("vpc_config", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("functions", "function_versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("vpc_config")
