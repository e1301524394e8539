"""provisioned concurrency: environments initialized ahead per version or alias

Revision ID: 0011_provisioned_concurrency
Revises: 0010_runtime_versions
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_provisioned_concurrency"
down_revision = "0010_runtime_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provisioned_concurrency_configs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("function_id", sa.Integer, sa.ForeignKey("functions.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("qualifier", sa.String(128), nullable=False),
        sa.Column("requested", sa.Integer, nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("function_id", "qualifier"),
    )


def downgrade() -> None:
    op.drop_table("provisioned_concurrency_configs")
