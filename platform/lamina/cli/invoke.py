"""Execution commands: ``lamina invoke``, ``lamina logs`` (API clients) and ``lamina scheduler``."""

from __future__ import annotations

import base64
import json
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import click

from lamina.cli.client import LaminaClient, quote
from lamina.cli.functions import api_options


@click.command()
@click.argument("name")
@click.option("--payload", default="{}", show_default=True,
              help="Event JSON; @FILE reads a file, - reads standard input.")
@click.option("--qualifier", default=None, help="Version or alias.")
@click.option("--log-type", type=click.Choice(["None", "Tail"]), default="None", show_default=True,
              help="Tail prints the last 4 KB of the invocation's log on standard error.")
@click.option("--invocation-type", type=click.Choice(["RequestResponse", "Event", "DryRun"]),
              default="RequestResponse", show_default=True)
@click.option("--tenant-id", default=None, help="TenantId of a PER_TENANT function (X-Amz-Tenant-Id).")
@api_options
def invoke(name: str, payload: str, qualifier: str | None, log_type: str, invocation_type: str,
           tenant_id: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    """Invoke function NAME and print its response.

    Exits with status 1 when the function returned an error (X-Amz-Function-Error).
    """
    if payload == "-":
        data = sys.stdin.buffer.read()
    elif payload.startswith("@"):
        with open(payload[1:], "rb") as fh:
            data = fh.read()
    else:
        data = payload.encode()
    headers = {"X-Amz-Invocation-Type": invocation_type, "X-Amz-Log-Type": log_type}
    if tenant_id is not None:
        headers["X-Amz-Tenant-Id"] = tenant_id
    resp = LaminaClient(endpoint, token).request(
        "POST", f"/2015-03-31/functions/{quote(name)}/invocations",
        query={"Qualifier": qualifier}, raw=data, headers=headers,
    )
    h = {k.lower(): v for k, v in resp.headers.items()}
    function_error = h.get("x-amz-function-error")
    log_result = h.get("x-amz-log-result")
    if as_json:
        click.echo(json.dumps({
            "StatusCode": resp.status,
            "ExecutedVersion": h.get("x-amz-executed-version"),
            "FunctionError": function_error,
            "LogResult": base64.b64decode(log_result).decode(errors="replace") if log_result else None,
            "Payload": resp.body.decode(errors="replace"),
        }, indent=2))
    else:
        if log_result:
            click.echo(base64.b64decode(log_result).decode(errors="replace"), err=True, nl=False)
        if resp.body:
            click.echo(resp.body.decode(errors="replace"))
        if function_error:
            click.echo(f"FunctionError: {function_error}", err=True)
    if function_error:
        sys.exit(1)


def _fmt(event: dict[str, Any], show_stream: bool) -> str:
    ts = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    prefix = f"{ts} {event['logStreamName']} " if show_stream else f"{ts} "
    return prefix + event["message"]


@click.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they arrive.")
@click.option("--since", default=None, help="Only events after this many seconds/minutes/hours ago (30s, 5m, 2h).")
@click.option("--limit", type=int, default=100, show_default=True, help="How many recent events to show first.")
@click.option("--stream", default=None, help="Only this log stream.")
@click.option("--streams", "list_streams", is_flag=True, help="List the log streams instead.")
@api_options
def logs(name: str, follow: bool, since: str | None, limit: int, stream: str | None, list_streams: bool,
         endpoint: str, token: str | None, as_json: bool) -> None:
    """Print the logs of function NAME (log group /aws/lambda/NAME)."""
    client = LaminaClient(endpoint, token)
    base = f"/lamina/v1/functions/{quote(name)}"
    if list_streams:
        doc = client.json("GET", f"{base}/log-streams")
        if as_json:
            click.echo(json.dumps(doc, indent=2))
        else:
            for s in doc.get("logStreams", []):
                click.echo(s["logStreamName"])
        return
    query: dict[str, Any] = {"limit": limit, "stream": stream}
    if since:
        query["since"] = int((time.time() - _seconds(since)) * 1000)
    show_stream = stream is None
    doc = client.json("GET", f"{base}/logs", query=query)
    while True:
        for event in doc.get("events", []):
            click.echo(json.dumps(event) if as_json else _fmt(event, show_stream))
        if not follow:
            return
        time.sleep(1.0)
        doc = client.json("GET", f"{base}/logs",
                          query={"stream": stream, "limit": 1000, "nextToken": doc.get("nextToken")})


def _seconds(value: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if value[-1] in units:
            return float(value[:-1]) * units[value[-1]]
        return float(value)
    except (ValueError, IndexError):
        raise click.BadParameter(f"{value!r} is not a duration like 30s, 5m or 2h") from None


@click.command()
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between reaper rounds.")
@click.option("--once", is_flag=True, help="Adopt/clean up and run a single round, then exit.")
def scheduler(interval: float, once: bool) -> None:
    """Run the reaper: freeze idle environments, reap them after the idle timeout, drain stale
    revisions, and at start adopt or remove the containers a previous run left."""
    from lamina.config import Settings
    from lamina.logs import configure_logging
    from lamina.node.daemon import build_scheduler
    from lamina.wiring import build_components

    settings = Settings.from_env()
    configure_logging(settings)
    comps = build_components(settings, migrate=False)
    reaper, _keeper = build_scheduler(settings, comps)
    if once:
        swept = reaper.sweep()
        tick = reaper.tick()
        click.echo(f"adopted {len(swept.adopted)}, removed {len(swept.removed)} containers; "
                   f"froze {len(tick.frozen)}, reaped {len(tick.reaped)}, retired {len(tick.retired)}")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    click.echo(f"lamina scheduler: freeze after {settings.freeze_after_s:g} s, reap after "
               f"{settings.idle_timeout_s:g} s idle (instance {settings.instance})", err=True)
    reaper.run(stop, interval_s=interval)
