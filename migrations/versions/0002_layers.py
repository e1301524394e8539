"""layers and layer versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "layers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False, index=True),
        sa.Column("name", sa.String(140), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("account_id", "name", name="uq_layers_account_id"),
    )
    op.create_table(
        "layer_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("layer_id", sa.Integer(), sa.ForeignKey("layers.id", ondelete="CASCADE",
                  name="fk_layer_versions_layer_id_layers"), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("compatible_runtimes", sa.JSON(), nullable=False),
        sa.Column("compatible_architectures", sa.JSON(), nullable=False),
        sa.Column("license_info", sa.String(512)),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("code_size", sa.BigInteger(), nullable=False),
        sa.Column("unzipped_size", sa.BigInteger(), nullable=False),
        sa.Column("code_key", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("layer_id", "version", name="uq_layer_versions_layer_id"),
    )


def downgrade() -> None:
    op.drop_table("layer_versions")
    op.drop_table("layers")
