"""LoggingConfig at work (issue 16): JSON records from the Python and Node.js runtimes at the configured
application level, the platform's lines as Lambda's JSON events at the system level, a LogGroup shared by
two functions, and the same records through --log-type Tail, the logs API and filter patterns."""

from __future__ import annotations

import base64
import json
from typing import Any

from lamina.services.functions import public_layers
from lamina.services.invoke.invocations import Invoker
from support.lambda_api import ROLE, make_zip

PYTHON = """
import logging, os
logger = logging.getLogger("orders")

def handler(event, context):
    logger.info("an info line")
    logger.warning("a warning", extra={"order": 42})
    try:
        raise KeyError("k")
    except KeyError:
        logger.exception("it broke")
    print("plain print")
    return {"group": context.log_group_name, "env": os.environ.get("AWS_LAMBDA_LOG_FORMAT"),
            "level": os.environ.get("AWS_LAMBDA_LOG_LEVEL")}
"""

NODE = """
exports.handler = async () => {
  console.trace('a trace line');
  console.debug('a debug line', { n: 1 });
  console.error(new TypeError('bad type'));
  return 'done';
};
"""

POWERTOOLS = """
from aws_lambda_powertools import Logger
logger = Logger(service="orders")

@logger.inject_lambda_context
def handler(event, context):
    logger.info("dropped at WARN")
    logger.warning("kept", extra={"item": "tea"})
    return "ok"
"""


def _create(lam: Any, name: str, files: dict[str, str], logging: dict[str, str], **extra: Any) -> None:
    lam.create_function(FunctionName=name, Role=ROLE, Code={"ZipFile": make_zip(files)}, MemorySize=256,
                        Timeout=10, LoggingConfig=logging, **extra)


def _tail(out: dict[str, Any]) -> list[str]:
    return base64.b64decode(out["LogResult"]).decode().splitlines()


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_json_records_at_their_levels_in_a_shared_log_group(lambda_client: Any, aws_client: Any,
                                                            invoker: Invoker) -> None:
    lam = lambda_client
    shared = {"LogFormat": "JSON", "LogGroup": "/shared/team-a"}
    _create(lam, "py-json", {"app.py": PYTHON}, {**shared, "ApplicationLogLevel": "WARN"},
            Runtime="python3.11", Handler="app.handler")
    _create(lam, "node-json", {"index.js": NODE}, {**shared, "ApplicationLogLevel": "DEBUG"},
            Runtime="nodejs20.x", Handler="index.handler")

    out = lam.invoke(FunctionName="py-json", LogType="Tail")
    rid = out["ResponseMetadata"]["RequestId"]
    assert json.loads(out["Payload"].read()) == {"group": "/shared/team-a", "env": "JSON", "level": "WARN"}
    lines = _tail(out)
    records = _records(lines)
    app = [r for r in records if "level" in r]
    assert [r["message"] for r in app] == ["a warning", "it broke"], lines  # INFO is under WARN: dropped
    warning, error = app
    assert warning["level"] == "WARN" and warning["logger"] == "orders" and warning["order"] == 42
    assert warning["requestId"] == rid and warning["timestamp"].endswith("Z")
    assert error["level"] == "ERROR" and error["errorType"] == "KeyError" and error["stackTrace"]
    assert "plain print" in lines  # print() output stays as it was written
    platform = [r for r in records if "type" in r]
    assert [r["type"] for r in platform] == ["platform.start", "platform.runtimeDone", "platform.report"]
    assert platform[0]["record"] == {"requestId": rid, "version": "$LATEST"}
    report = platform[2]["record"]
    assert report["status"] == "success" and report["requestId"] == rid
    assert set(report["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
                                      "initDurationMs"}
    assert report["metrics"]["memorySizeMB"] == 256
    assert not any(line.startswith(("START", "END", "REPORT")) for line in lines)

    out = lam.invoke(FunctionName="node-json", LogType="Tail")
    node = [r for r in _records(_tail(out)) if "level" in r]
    assert [(r["level"], r["message"]) for r in node] == [("DEBUG", "a debug line { n: 1 }"),
                                                          ("ERROR", "bad type")]  # TRACE is under DEBUG
    assert node[1]["errorType"] == "TypeError" and node[1]["stackTrace"][0].startswith("TypeError: bad type")

    # The system level: at WARN a successful invoke has no platform events at all.
    lam.update_function_configuration(FunctionName="py-json", LoggingConfig={"SystemLogLevel": "WARN"})
    lam.get_waiter("function_updated_v2").wait(FunctionName="py-json")
    quiet = _records(_tail(lam.invoke(FunctionName="py-json", LogType="Tail")))
    assert not [r for r in quiet if "type" in r] and [r["message"] for r in quiet] == ["a warning", "it broke"]

    logs = aws_client("logs")
    shared_groups = logs.describe_log_groups(logGroupNamePrefix="/shared/")["logGroups"]
    assert [g["logGroupName"] for g in shared_groups] == ["/shared/team-a"]
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/py-json")["logGroups"] == []
    events = logs.filter_log_events(logGroupName="/shared/team-a")["events"]
    messages = [json.loads(e["message"]).get("message") for e in events if e["message"].startswith("{")]
    assert "a warning" in messages and "bad type" in messages  # both functions write the one group
    warns = logs.filter_log_events(logGroupName="/shared/team-a", filterPattern='{ $.level = "WARN" }')["events"]
    assert warns and all(json.loads(e["message"])["level"] == "WARN" for e in warns)


def test_text_is_the_default_and_keeps_lambdas_lines(lambda_client: Any, invoker: Invoker) -> None:
    lam = lambda_client
    _create(lam, "py-text", {"app.py": PYTHON}, {"LogFormat": "Text"}, Runtime="python3.11", Handler="app.handler")
    out = lam.invoke(FunctionName="py-text", LogType="Tail")
    assert json.loads(out["Payload"].read())["env"] is None
    lines = _tail(out)
    assert lines[0].startswith("START RequestId: ") and lines[-1].startswith("REPORT RequestId: ")
    assert any(line.startswith("[WARNING]") and "a warning" in line for line in lines)


def test_powertools_logger_follows_the_application_level(lambda_client: Any, components: Any,
                                                         invoker: Invoker) -> None:
    arns = public_layers.install(components, log=lambda m: None)
    layer = next(a for a in arns if "python311" in a)
    _create(lambda_client, "pt-json", {"app.py": POWERTOOLS}, {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
            Runtime="python3.11", Handler="app.handler", Layers=[layer])
    out = lambda_client.invoke(FunctionName="pt-json", LogType="Tail")
    assert json.loads(out["Payload"].read()) == "ok"
    app = [r for r in _records(_tail(out)) if "level" in r]
    assert [r["message"] for r in app] == ["kept"], app
    assert app[0]["item"] == "tea" and app[0]["service"] == "orders" and app[0]["level"] in ("WARN", "WARNING")
