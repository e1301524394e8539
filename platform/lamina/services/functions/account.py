"""Account settings: the limits lamina enforces and what the account uses."""

from __future__ import annotations

from lamina.services.common import Deps
from lamina.services.functions.concurrency import account_limit
from lamina.services.records import AccountSettingsRecord
from lamina.store import queries


def get_settings(deps: Deps, account_id: str) -> AccountSettingsRecord:
    s = deps.settings
    with deps.sessions() as session:
        reserved = queries.reserved_total(session, account_id)
        limit = account_limit(deps, session, account_id)
        return AccountSettingsRecord(
            total_code_size_limit=s.total_code_bytes,
            code_size_unzipped_limit=s.max_unzipped_bytes,
            code_size_zipped_limit=s.max_zip_bytes,
            concurrent_executions=limit,
            unreserved_concurrent_executions=max(limit - reserved, 0),
            total_code_size=queries.code_usage(session, account_id),
            function_count=queries.function_count(session, account_id),
        )
