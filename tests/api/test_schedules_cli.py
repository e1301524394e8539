"""The trigger commands of the CLI against a live API: schedules, queues, event sources, URLs, triggers."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from lamina.cli.main import cli
from support.functions import Functions

APP = "def handler(event, context):\n    return event\n"


def run(live_server: Any, *args: str) -> Any:
    out = CliRunner().invoke(cli, [*args, "--endpoint", live_server.url])
    assert out.exit_code == 0, out.output
    return out


def test_trigger_commands(live_server: Any, client: Any, components: Any) -> None:
    Functions(client, components, None).create("cli-fn", {"app.py": APP})
    made = run(live_server, "schedules", "create", "nightly", "--function", "cli-fn",
               "--expression", "cron(0 3 * * ? *)")
    assert "nightly" in made.output and "ENABLED" in made.output
    assert "DISABLED" in run(live_server, "schedules", "disable", "nightly").output
    assert "ENABLED" in run(live_server, "schedules", "enable", "nightly").output
    listed = json.loads(run(live_server, "schedules", "list", "--json").output)
    assert [s["Name"] for s in listed["Schedules"]] == ["nightly"]

    run(live_server, "queues", "create", "cli-dlq")
    run(live_server, "queues", "create", "cli-q", "--visibility-timeout", "5", "--max-receive-count", "3",
        "--dead-letter", "cli-dlq")
    run(live_server, "queues", "send", "cli-q", "one")
    run(live_server, "queues", "send", "cli-q", "two", "three")
    got = json.loads(run(live_server, "queues", "receive", "cli-q", "--json").output)
    assert sorted(m["Body"] for m in got["Messages"]) == ["one", "three", "two"]
    assert "cli-q" in run(live_server, "queues", "list").output

    esm = json.loads(run(live_server, "event-sources", "create", "--function", "cli-fn", "--queue", "cli-q",
                         "--batch-size", "5", "--report-batch-item-failures", "--json").output)
    assert esm["EventSourceArn"].endswith(":cli-q") and esm["BatchSize"] == 5
    assert "Disabled" in run(live_server, "event-sources", "update", esm["UUID"], "--disable").output
    assert esm["UUID"] in run(live_server, "event-sources", "list", "--function", "cli-fn").output

    url = json.loads(run(live_server, "urls", "create", "cli-fn", "--cors", '{"AllowOrigins": ["*"]}',
                         "--json").output)
    assert "/lamina-url/" in url["FunctionUrl"]

    everything = run(live_server, "triggers", "cli-fn").output
    assert "schedule" in everything and "nightly" in everything
    assert "event-source" in everything and esm["UUID"] in everything
    assert url["FunctionUrl"] in everything

    run(live_server, "urls", "delete", "cli-fn")
    run(live_server, "event-sources", "delete", esm["UUID"])
    run(live_server, "schedules", "delete", "nightly")
    run(live_server, "queues", "delete", "cli-q")
    assert "has no triggers" in run(live_server, "triggers", "cli-fn").output
