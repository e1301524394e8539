"""``lamina event-sources``: Lambda's event source mappings (/2015-03-31/event-source-mappings)."""

from __future__ import annotations

from typing import Any

from lamina.cli.client import LaminaClient
from lamina.cli.kinds import Kind, Verb, always, collection, make_group, opt, query
from lamina.cli.queues import queue_arn


def _resolve_queue(client: LaminaClient, body: dict[str, Any]) -> None:
    body["EventSourceArn"] = queue_arn(client, body["EventSourceArn"])


KIND = Kind(
    group="event-sources",
    help="Event source mappings: a queue polled in batches for a function.",
    path=collection("/2015-03-31/event-source-mappings"),
    id_arg="uuid",
    columns=[("UUID", "UUID"), ("SOURCE", "EventSourceArn"), ("FUNCTION", "FunctionArn"),
             ("BATCH", "BatchSize"), ("WINDOW", "MaximumBatchingWindowInSeconds"), ("STATE", "State")],
    verbs=(
        Verb("create", "POST", with_id=False, before=_resolve_queue, opts=(
            opt("--function", "function_name", key="FunctionName", required=True),
            opt("--queue", "source", key="EventSourceArn", required=True, help="Queue name or ARN."),
            opt("--batch-size", key="BatchSize", type=int, default=None),
            opt("--window", key="MaximumBatchingWindowInSeconds", type=int, default=None,
                help="MaximumBatchingWindowInSeconds."),
            opt("--report-batch-item-failures", key="FunctionResponseTypes", send=bool,
                convert=lambda _: ["ReportBatchItemFailures"], is_flag=True),
            opt("--disabled", key="Enabled", send=always, convert=lambda off: not off, is_flag=True),
        )),
        Verb("list", "GET", with_id=False, rows_key="EventSourceMappings", opts=(
            query("--function", "function_name", key="FunctionName", default=None),)),
        Verb("get", "GET", show="detail"),
        Verb("update", "PUT", opts=(
            opt("--batch-size", key="BatchSize", type=int, default=None),
            opt("--window", key="MaximumBatchingWindowInSeconds", type=int, default=None),
            opt("--enable/--disable", "enabled", key="Enabled", default=None),
        )),
        Verb("delete", "DELETE", show="done", done="deleted event source mapping {id}"),
    ),
    triggers_key="EventSourceMappings", label="event-source",
    summary=lambda m: (m["UUID"], f"{m['EventSourceArn']} batch {m['BatchSize']} {m['State']}"),
)

event_sources = make_group(KIND)
