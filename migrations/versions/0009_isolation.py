"""isolation: the sandbox an account's functions run in (container or gvisor) and what each function asks for

Revision ID: 0009_isolation
Revises: 0008_user_policies
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_isolation"
down_revision = "0008_user_policies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("isolation", sa.String(16), nullable=True))
        batch.add_column(sa.Column("isolation_allowed", sa.JSON(), nullable=True))
    with op.batch_alter_table("functions") as batch:
        batch.add_column(sa.Column("isolation", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("functions") as batch:
        batch.drop_column("isolation")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("isolation_allowed")
        batch.drop_column("isolation")
