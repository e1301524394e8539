"""security: accounts, users, access keys, execution roles, resource policy statements

Revision ID: 0004_security
Revises: 0003_triggers
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_security"
down_revision = "0003_triggers"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.Column:
    ref = f"{target}.id"
    kind = sa.String(12) if target == "accounts" else sa.Integer()
    return sa.Column(column, kind, sa.ForeignKey(ref, ondelete="CASCADE", name=f"fk_{table}_{column}_{target}"),
                     nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("users", "account_id", "accounts"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "name", name="uq_users_account_id"),
    )
    op.create_table(
        "access_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        _fk("access_keys", "user_id", "users"),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "execution_roles",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("execution_roles", "account_id", "accounts"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("statements", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "name", name="uq_execution_roles_account_id"),
    )
    op.create_table(
        "policy_statements",
        sa.Column("id", sa.Integer(), primary_key=True),
        _fk("policy_statements", "function_id", "functions"),
        sa.Column("qualifier", sa.String(128), nullable=False),
        sa.Column("sid", sa.String(100), nullable=False),
        sa.Column("statement", sa.JSON(), nullable=False),
        sa.UniqueConstraint("function_id", "qualifier", "sid", name="uq_policy_statements_function_id"),
    )


def downgrade() -> None:
    op.drop_table("policy_statements")
    op.drop_table("execution_roles")
    op.drop_table("access_keys")
    op.drop_table("users")
    op.drop_table("accounts")
