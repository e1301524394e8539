"""user policies: an identity policy per user (statements as a role's; NULL = full rights in its account)

Revision ID: 0008_user_policies
Revises: 0007_vpc_config
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_user_policies"
down_revision = "0007_vpc_config"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("policy", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("policy")
