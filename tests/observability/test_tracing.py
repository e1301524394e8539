"""Trace ids of real invocations: the caller's or a new one, seen by the function, answered, and OpenTelemetry spans."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from lamina.services.invoke import tracing
from support.functions import Functions

APP = """
import os


def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""


def test_trace_id_reaches_the_function_and_the_caller(client: Any, fns: Functions) -> None:
    fns.create("traced", {"app.py": APP}, handler="app.handler")
    resp = client.post("/2015-03-31/functions/traced/invocations", data=b"{}")
    header = resp.headers["X-Amzn-Trace-Id"]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", header)
    assert json.loads(resp.get_data())["trace"] == header
    mine = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    resp = client.post("/2015-03-31/functions/traced/invocations", data=b"{}", headers={"X-Amzn-Trace-Id": mine})
    assert json.loads(resp.get_data())["trace"] == mine == resp.headers["X-Amzn-Trace-Id"]


def test_opentelemetry_spans_when_enabled(client: Any, fns: Functions, invoker: Any) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    assert invoker.tracing is None  # no OTLP endpoint configured: nothing wraps the invoker
    exporter = InMemorySpanExporter()
    invoker.tracing = tracing.Tracing(exporter, batch=False)
    invoker.tracing.instrument(invoker)
    fns.create("spans", {"app.py": APP}, handler="app.handler")
    caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    resp = client.post("/2015-03-31/functions/spans/invocations", data=b"{}", headers={"X-Amzn-Trace-Id": caller})
    seen = json.loads(resp.get_data())["trace"]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert {"invoke", "scheduler.acquire", "container.start", "container.invoke"} <= set(spans)
    root = spans["invoke"]
    assert f"{root.context.trace_id:032x}" == "5759e988bd862e3fe1be46a994272793"
    assert f"{root.parent.span_id:016x}" == "53995c3f42cd8ad8"
    assert root.attributes["faas.name"] == "spans"
    for child in ("scheduler.acquire", "container.start", "container.invoke"):
        assert spans[child].parent.span_id == root.context.span_id
    assert seen == f"Root=1-5759e988-bd862e3fe1be46a994272793;Parent={root.context.span_id:016x};Sampled=1"


def test_trace_id_is_on_the_report_line(client: Any, fns: Functions) -> None:
    import base64

    fns.create("reported", {"app.py": APP}, handler="app.handler")
    mine = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    resp = client.post("/2015-03-31/functions/reported/invocations", data=b"{}",
                       headers={"X-Amzn-Trace-Id": mine, "X-Amz-Log-Type": "Tail"})
    report = base64.b64decode(resp.headers["X-Amz-Log-Result"]).decode().splitlines()[-1]
    assert report.startswith("REPORT RequestId: ")
    assert report.endswith("\tXRAY TraceId: 1-5759e988-bd862e3fe1be46a994272793\tSegmentId: 53995c3f42cd8ad8"
                           "\tSampled: true"), report
    resp = client.post("/2015-03-31/functions/reported/invocations", data=b"{}", headers={"X-Amz-Log-Type": "Tail"})
    new = resp.headers["X-Amzn-Trace-Id"]
    report = base64.b64decode(resp.headers["X-Amz-Log-Result"]).decode().splitlines()[-1]
    assert f"\tXRAY TraceId: {new.split(';')[0][5:]}\t" in report and report.endswith("\tSampled: false")
