"""trigger grants: the resource-policy statements existing triggers now need to fire

Triggers check their permission when they fire (lamina.services.iam.policies); new ones get their statement
when they are made. This gives the schedules, queue mappings and AuthType NONE function URLs made before
that the same statements, so an upgrade stops none of them.

Revision ID: 0006_trigger_grants
Revises: 0005_account_quotas
Create Date: 2026-11-24
"""
import os

import sqlalchemy as sa
from alembic import op

revision = "0006_trigger_grants"
down_revision = "0005_account_quotas"
branch_labels = None
depends_on = None

SIDS = ("lamina-schedule-%", "lamina-esm-%", "FunctionURLAllowPublicAccess")


def _function_arn(region: str, account: str, name: str, qualifier: str) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _key(qualifier: str | None) -> str:
    return "" if qualifier in (None, "", "$LATEST") else qualifier


def upgrade() -> None:
    bind = op.get_bind()
    region = os.environ.get("LAMINA_REGION", "us-east-1")
    statements = sa.table("policy_statements", sa.column("function_id", sa.Integer), sa.column("qualifier"),
                          sa.column("sid"), sa.column("statement", sa.JSON))
    existing = {(r.function_id, r.qualifier, r.sid)
                for r in bind.execute(sa.text("SELECT function_id, qualifier, sid FROM policy_statements"))}
    rows: list[dict] = []

    def add(function_id: int, qualifier: str, sid: str, statement: dict) -> None:
        if (function_id, qualifier, sid) not in existing:
            existing.add((function_id, qualifier, sid))
            rows.append({"function_id": function_id, "qualifier": qualifier, "sid": sid, "statement": statement})

    for r in bind.execute(sa.text(
        "SELECT s.name, s.qualifier, s.function_id, f.name AS fn, f.account_id FROM schedules s "
        "JOIN functions f ON f.id = s.function_id"
    )):
        qual = _key(r.qualifier)
        add(r.function_id, qual, f"lamina-schedule-{r.name}"[:100], {
            "Sid": f"lamina-schedule-{r.name}"[:100], "Effect": "Allow", "Principal": {"Service": "events.lamina"},
            "Action": "lambda:InvokeFunction", "Resource": _function_arn(region, r.account_id, r.fn, qual),
            "Condition": {"ArnLike": {"AWS:SourceArn": f"arn:aws:events:{region}:{r.account_id}:rule/{r.name}"}},
        })
    for r in bind.execute(sa.text(
        "SELECT m.uuid, m.qualifier, m.function_id, m.event_source_arn, f.name AS fn, f.account_id "
        "FROM event_source_mappings m JOIN functions f ON f.id = m.function_id"
    )):
        qual = _key(r.qualifier)
        add(r.function_id, qual, f"lamina-esm-{r.uuid}", {
            "Sid": f"lamina-esm-{r.uuid}", "Effect": "Allow", "Principal": {"Service": "sqs.lamina"},
            "Action": "lambda:InvokeFunction", "Resource": _function_arn(region, r.account_id, r.fn, qual),
            "Condition": {"ArnLike": {"AWS:SourceArn": r.event_source_arn}},
        })
    for r in bind.execute(sa.text(
        "SELECT u.qualifier, u.function_id, f.name AS fn, f.account_id FROM function_urls u "
        "JOIN functions f ON f.id = u.function_id WHERE u.auth_type = 'NONE'"
    )):
        qual = _key(r.qualifier)
        add(r.function_id, qual, "FunctionURLAllowPublicAccess", {
            "Sid": "FunctionURLAllowPublicAccess", "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl", "Resource": _function_arn(region, r.account_id, r.fn, qual),
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
        })
    if rows:
        op.bulk_insert(statements, rows)


def downgrade() -> None:
    # The statements stay valid policy; only lamina's own trigger grants are taken back.
    for pattern in SIDS:
        op.execute(sa.text("DELETE FROM policy_statements WHERE sid LIKE :p").bindparams(p=pattern))
