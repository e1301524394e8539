"""deployments: gradual deployments of an alias from one version to another

Revision ID: 0016_deployments
Revises: 0015_code_blobs
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_deployments"
down_revision = "0015_code_blobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("function_id", sa.Integer, sa.ForeignKey("functions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("from_version", sa.String(16), nullable=False),
        sa.Column("to_version", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("max_error_rate", sa.Float, nullable=False),
        sa.Column("max_p99_ms", sa.Float, nullable=True),
        sa.Column("min_invocations", sa.Integer, nullable=False),
        sa.Column("step_started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_deployments_function_id", "deployments", ["function_id"])
    op.create_index("ix_deployments_status", "deployments", ["status"])


def downgrade() -> None:
    op.drop_index("ix_deployments_status", "deployments")
    op.drop_index("ix_deployments_function_id", "deployments")
    op.drop_table("deployments")
