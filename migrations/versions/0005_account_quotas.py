"""account quotas: concurrency and API request rate per account (NULL: the instance's defaults)

Revision ID: 0005_account_quotas
Revises: 0004_security
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_account_quotas"
down_revision = "0004_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("concurrency_limit", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("api_rate_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("api_rate_limit")
        batch.drop_column("concurrency_limit")
