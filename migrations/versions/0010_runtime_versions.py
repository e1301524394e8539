"""runtime versions: the runtime image a function (and each version) runs on, and when it moves

Revision ID: 0010_runtime_versions
Revises: 0009_isolation
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_runtime_versions"
down_revision = "0009_isolation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("functions") as batch:
        batch.add_column(sa.Column("runtime_version_arn", sa.String(160), nullable=True))
        batch.add_column(sa.Column("runtime_update_mode", sa.String(16), nullable=True))
    with op.batch_alter_table("function_versions") as batch:
        batch.add_column(sa.Column("runtime_version_arn", sa.String(160), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("function_versions") as batch:
        batch.drop_column("runtime_version_arn")
    with op.batch_alter_table("functions") as batch:
        batch.drop_column("runtime_update_mode")
        batch.drop_column("runtime_version_arn")
