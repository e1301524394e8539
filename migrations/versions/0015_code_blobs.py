"""code_blobs: code and layer archives in the database, for a fleet with no shared file system

Revision ID: 0015_code_blobs
Revises: 0014_newer_contract
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_code_blobs"
down_revision = "0014_newer_contract"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "code_blobs",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("code_blobs")
