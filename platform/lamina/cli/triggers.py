"""Trigger commands: ``lamina schedules``, ``lamina queues``, ``lamina event-sources``, ``lamina urls`` and
``lamina triggers FUNCTION`` (everything that invokes a function)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from lamina.cli.client import LaminaClient, quote
from lamina.cli.functions import api_options
from lamina.cli.output import emit

SCHEDULES = "/lamina/v1/schedules"
QUEUES = "/lamina/v1/queues"
ESM = "/2015-03-31/event-source-mappings"
SCHEDULE_COLUMNS = [("NAME", "Name"), ("EXPRESSION", "ScheduleExpression"), ("STATE", "State"),
                    ("FUNCTION", "FunctionArn"), ("NEXT FIRE", "NextFireTime")]
QUEUE_COLUMNS = [("NAME", "QueueName"), ("VISIBLE", "ApproximateNumberOfMessages"),
                 ("IN FLIGHT", "ApproximateNumberOfMessagesNotVisible"), ("VISIBILITY", "VisibilityTimeout"),
                 ("MAX RECEIVES", "MaxReceiveCount"), ("DEAD LETTER", "DeadLetterQueueArn")]
ESM_COLUMNS = [("UUID", "UUID"), ("SOURCE", "EventSourceArn"), ("FUNCTION", "FunctionArn"),
               ("BATCH", "BatchSize"), ("WINDOW", "MaximumBatchingWindowInSeconds"), ("STATE", "State")]
URL_COLUMNS = [("URL", "FunctionUrl"), ("FUNCTION", "FunctionArn"), ("AUTH", "AuthType"), ("MODE", "InvokeMode")]


# -- schedules


@click.group()
def schedules() -> None:
    """Schedules: rate() and cron() expressions that invoke a function."""


@schedules.command("create")
@click.argument("name")
@click.option("--function", "function_name", required=True, help="Function name or ARN (name:alias allowed).")
@click.option("--expression", required=True, help="rate(5 minutes) or cron(0 12 * * ? *)")
@click.option("--qualifier", default=None, help="Alias or version to invoke.")
@click.option("--input", "payload", default=None, help="Constant JSON event instead of EventBridge's.")
@click.option("--description", default="")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@api_options
def schedules_create(name: str, function_name: str, expression: str, qualifier: str | None, payload: str | None,
                     description: str, disabled: bool, endpoint: str, token: str | None, as_json: bool) -> None:
    body: dict[str, Any] = {"Name": name, "FunctionName": function_name, "ScheduleExpression": expression,
                            "Description": description, "State": "DISABLED" if disabled else "ENABLED"}
    if qualifier:
        body["Qualifier"] = qualifier
    if payload is not None:
        body["Input"] = payload
    emit(LaminaClient(endpoint, token).json("POST", SCHEDULES, body), as_json, SCHEDULE_COLUMNS)


@schedules.command("list")
@click.option("--function", "function_name", default=None, help="Only this function's schedules.")
@api_options
def schedules_list(function_name: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    data = LaminaClient(endpoint, token).json("GET", SCHEDULES, query={"FunctionName": function_name})
    emit(data, as_json, SCHEDULE_COLUMNS, rows_key="Schedules")


@schedules.command("get")
@click.argument("name")
@api_options
def schedules_get(name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    emit(LaminaClient(endpoint, token).json("GET", f"{SCHEDULES}/{quote(name)}"), as_json)


def _set_state(name: str, state: str, endpoint: str, token: str | None, as_json: bool) -> None:
    data = LaminaClient(endpoint, token).json("PUT", f"{SCHEDULES}/{quote(name)}", {"State": state})
    emit(data, as_json, SCHEDULE_COLUMNS)


@schedules.command("disable")
@click.argument("name")
@api_options
def schedules_disable(name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    _set_state(name, "DISABLED", endpoint, token, as_json)


@schedules.command("enable")
@click.argument("name")
@api_options
def schedules_enable(name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    _set_state(name, "ENABLED", endpoint, token, as_json)


@schedules.command("delete")
@click.argument("name")
@api_options
def schedules_delete(name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    LaminaClient(endpoint, token).request("DELETE", f"{SCHEDULES}/{quote(name)}")
    click.echo(f"deleted schedule {name}")


# -- queues


@click.group()
def queues() -> None:
    """Lamina queues: SQS-like queues in Redis, the sources of event source mappings."""


@queues.command("create")
@click.argument("name")
@click.option("--visibility-timeout", type=int, default=None, help="Seconds a received message stays hidden.")
@click.option("--max-receive-count", type=int, default=None, help="Receives before the dead-letter queue.")
@click.option("--dead-letter", default=None, help="Dead-letter queue (name or ARN).")
@api_options
def queues_create(name: str, visibility_timeout: int | None, max_receive_count: int | None, dead_letter: str | None,
                  endpoint: str, token: str | None, as_json: bool) -> None:
    body: dict[str, Any] = {"QueueName": name}
    for key, value in (("VisibilityTimeout", visibility_timeout), ("MaxReceiveCount", max_receive_count),
                       ("DeadLetterQueue", dead_letter)):
        if value is not None:
            body[key] = value
    emit(LaminaClient(endpoint, token).json("POST", QUEUES, body), as_json, QUEUE_COLUMNS)


@queues.command("list")
@api_options
def queues_list(endpoint: str, token: str | None, as_json: bool) -> None:
    emit(LaminaClient(endpoint, token).json("GET", QUEUES), as_json, QUEUE_COLUMNS, rows_key="Queues")


@queues.command("get")
@click.argument("name")
@api_options
def queues_get(name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    emit(LaminaClient(endpoint, token).json("GET", f"{QUEUES}/{quote(name)}"), as_json)


@queues.command("send")
@click.argument("name")
@click.argument("bodies", nargs=-1, required=True)
@click.option("--delay", type=int, default=0, help="DelaySeconds (0-900).")
@api_options
def queues_send(name: str, bodies: tuple[str, ...], delay: int, endpoint: str, token: str | None,
                as_json: bool) -> None:
    """Send one message, or a batch of up to 10 (each BODY is a message; - reads one from standard input)."""
    texts = [sys.stdin.read() if b == "-" else b for b in bodies]
    client = LaminaClient(endpoint, token)
    if len(texts) == 1:
        data = client.json("POST", f"{QUEUES}/{quote(name)}/messages", {"MessageBody": texts[0], "DelaySeconds": delay})
        emit(data, as_json)
        return
    entries = [{"Id": str(i), "MessageBody": t} for i, t in enumerate(texts)]
    data = client.json("POST", f"{QUEUES}/{quote(name)}/messages", {"Entries": entries, "DelaySeconds": delay})
    emit(data, as_json, [("ID", "Id"), ("MESSAGE ID", "MessageId")], rows_key="Successful")


@queues.command("receive")
@click.argument("name")
@click.option("--max", "max_messages", type=int, default=10, show_default=True)
@click.option("--visibility-timeout", type=int, default=None, help="Hide them this long (default: the queue's).")
@api_options
def queues_receive(name: str, max_messages: int, visibility_timeout: int | None, endpoint: str, token: str | None,
                   as_json: bool) -> None:
    """Receive messages for inspection (they are hidden for the visibility timeout, not deleted)."""
    body: dict[str, Any] = {"MaxNumberOfMessages": max_messages}
    if visibility_timeout is not None:
        body["VisibilityTimeout"] = visibility_timeout
    data = LaminaClient(endpoint, token).json("POST", f"{QUEUES}/{quote(name)}/receive", body)
    emit(data, as_json, [("MESSAGE ID", "MessageId"), ("RECEIVES", "Attributes.ApproximateReceiveCount"),
                         ("BODY", "Body")], rows_key="Messages")


@queues.command("purge")
@click.argument("name")
@api_options
def queues_purge(name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    LaminaClient(endpoint, token).request("POST", f"{QUEUES}/{quote(name)}/purge")
    click.echo(f"purged queue {name}")


@queues.command("delete")
@click.argument("name")
@api_options
def queues_delete(name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    LaminaClient(endpoint, token).request("DELETE", f"{QUEUES}/{quote(name)}")
    click.echo(f"deleted queue {name}")


# -- event source mappings


@click.group("event-sources")
def event_sources() -> None:
    """Event source mappings: a queue polled in batches for a function."""


def _queue_arn(client: LaminaClient, source: str) -> str:
    return source if source.startswith("arn:") else client.json("GET", f"{QUEUES}/{quote(source)}")["QueueArn"]


@event_sources.command("create")
@click.option("--function", "function_name", required=True)
@click.option("--queue", "source", required=True, help="Queue name or ARN.")
@click.option("--batch-size", type=int, default=None)
@click.option("--window", type=int, default=None, help="MaximumBatchingWindowInSeconds.")
@click.option("--report-batch-item-failures", is_flag=True)
@click.option("--disabled", is_flag=True)
@api_options
def esm_create(function_name: str, source: str, batch_size: int | None, window: int | None,
               report_batch_item_failures: bool, disabled: bool, endpoint: str, token: str | None,
               as_json: bool) -> None:
    client = LaminaClient(endpoint, token)
    body: dict[str, Any] = {"FunctionName": function_name, "EventSourceArn": _queue_arn(client, source),
                            "Enabled": not disabled}
    if batch_size is not None:
        body["BatchSize"] = batch_size
    if window is not None:
        body["MaximumBatchingWindowInSeconds"] = window
    if report_batch_item_failures:
        body["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    emit(client.json("POST", ESM, body), as_json, ESM_COLUMNS)


@event_sources.command("list")
@click.option("--function", "function_name", default=None)
@api_options
def esm_list(function_name: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    data = LaminaClient(endpoint, token).json("GET", ESM, query={"FunctionName": function_name})
    emit(data, as_json, ESM_COLUMNS, rows_key="EventSourceMappings")


@event_sources.command("get")
@click.argument("uuid")
@api_options
def esm_get(uuid: str, endpoint: str, token: str | None, as_json: bool) -> None:
    emit(LaminaClient(endpoint, token).json("GET", f"{ESM}/{quote(uuid)}"), as_json)


@event_sources.command("update")
@click.argument("uuid")
@click.option("--batch-size", type=int, default=None)
@click.option("--window", type=int, default=None)
@click.option("--enable/--disable", "enabled", default=None)
@api_options
def esm_update(uuid: str, batch_size: int | None, window: int | None, enabled: bool | None, endpoint: str,
               token: str | None, as_json: bool) -> None:
    body: dict[str, Any] = {}
    for key, value in (("BatchSize", batch_size), ("MaximumBatchingWindowInSeconds", window), ("Enabled", enabled)):
        if value is not None:
            body[key] = value
    emit(LaminaClient(endpoint, token).json("PUT", f"{ESM}/{quote(uuid)}", body), as_json, ESM_COLUMNS)


@event_sources.command("delete")
@click.argument("uuid")
@api_options
def esm_delete(uuid: str, endpoint: str, token: str | None, as_json: bool) -> None:
    LaminaClient(endpoint, token).request("DELETE", f"{ESM}/{quote(uuid)}")
    click.echo(f"deleted event source mapping {uuid}")


# -- function URLs


@click.group()
def urls() -> None:
    """Function URLs: HTTP endpoints that invoke a function."""


def _url_path(name: str) -> str:
    return f"/2021-10-31/functions/{quote(name)}/url"


@urls.command("create")
@click.argument("function_name")
@click.option("--qualifier", default=None, help="Alias.")
@click.option("--auth-type", type=click.Choice(["NONE", "AWS_IAM"]), default="NONE", show_default=True)
@click.option("--cors", default=None, help='Cors JSON, e.g. {"AllowOrigins": ["*"]}')
@api_options
def urls_create(function_name: str, qualifier: str | None, auth_type: str, cors: str | None, endpoint: str,
                token: str | None, as_json: bool) -> None:
    body: dict[str, Any] = {"AuthType": auth_type}
    if cors:
        body["Cors"] = json.loads(cors)
    data = LaminaClient(endpoint, token).json("POST", _url_path(function_name), body,
                                              query={"Qualifier": qualifier})
    emit(data, as_json, URL_COLUMNS)


@urls.command("get")
@click.argument("function_name")
@click.option("--qualifier", default=None)
@api_options
def urls_get(function_name: str, qualifier: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    emit(LaminaClient(endpoint, token).json("GET", _url_path(function_name), query={"Qualifier": qualifier}),
         as_json)


@urls.command("update")
@click.argument("function_name")
@click.option("--qualifier", default=None)
@click.option("--auth-type", type=click.Choice(["NONE", "AWS_IAM"]), default=None)
@click.option("--cors", default=None, help="Cors JSON.")
@api_options
def urls_update(function_name: str, qualifier: str | None, auth_type: str | None, cors: str | None, endpoint: str,
                token: str | None, as_json: bool) -> None:
    body: dict[str, Any] = {}
    if auth_type:
        body["AuthType"] = auth_type
    if cors:
        body["Cors"] = json.loads(cors)
    data = LaminaClient(endpoint, token).json("PUT", _url_path(function_name), body, query={"Qualifier": qualifier})
    emit(data, as_json, URL_COLUMNS)


@urls.command("delete")
@click.argument("function_name")
@click.option("--qualifier", default=None)
@api_options
def urls_delete(function_name: str, qualifier: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    LaminaClient(endpoint, token).request("DELETE", _url_path(function_name), query={"Qualifier": qualifier})
    click.echo(f"deleted the URL of {function_name}")


@urls.command("list")
@click.argument("function_name")
@api_options
def urls_list(function_name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    data = LaminaClient(endpoint, token).json("GET", f"/2021-10-31/functions/{quote(function_name)}/urls")
    emit(data, as_json, URL_COLUMNS, rows_key="FunctionUrlConfigs")


# -- all triggers of a function


@click.command()
@click.argument("function_name")
@api_options
def triggers(function_name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    """Everything that invokes FUNCTION_NAME: schedules, event source mappings, URLs."""
    data = LaminaClient(endpoint, token).json("GET", f"/2015-03-31/functions/{quote(function_name)}")
    found = data.get("Triggers") or {}
    if as_json:
        emit(found, True)
        return
    rows = []
    for s in found.get("Schedules", []):
        rows.append({"KIND": "schedule", "ID": s["Name"], "DETAIL": f"{s['ScheduleExpression']} {s['State']}"})
    for m in found.get("EventSourceMappings", []):
        rows.append({"KIND": "event-source", "ID": m["UUID"],
                     "DETAIL": f"{m['EventSourceArn']} batch {m['BatchSize']} {m['State']}"})
    for u in found.get("FunctionUrlConfigs", []):
        rows.append({"KIND": "url", "ID": u["FunctionUrl"], "DETAIL": u["AuthType"]})
    if not rows:
        click.echo(f"{function_name} has no triggers")
        return
    emit(rows, False, [("KIND", "KIND"), ("ID", "ID"), ("DETAIL", "DETAIL")])
