"""OpenTelemetry spans of an invocation (invoke -> scheduler.acquire -> container.start / container.invoke).

Off unless ``LAMINA_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT``) is set and ``opentelemetry-sdk``
is installed (``pip install lamina[otel]``): the invoker's steps are then wrapped in spans (``Tracing.instrument``);
without it nothing on the hot path changes. Spans go to ``<endpoint>/v1/traces`` (OTLP over HTTP)
through a batching processor.

The Lambda trace id and the OpenTelemetry trace are one: ``Root=1-<8 hex>-<24 hex>`` is the 32-hex
OpenTelemetry trace id, the caller's ``Parent`` (if any) is the parent span of ``invoke``, and the function
receives ``Parent=<invoke span id>;Sampled=1`` in ``Lambda-Runtime-Trace-Id`` (``_X_AMZN_TRACE_ID``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

_ROOT = re.compile(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})")
_PARENT = re.compile(r"Parent=([0-9a-f]{16})")


class Tracing:
    """A tracer of its own provider (never the global one), exporting to ``exporter``."""

    def __init__(self, exporter: Any, *, batch: bool = True, service_name: str = "lamina") -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("lamina")

    @contextmanager
    def invoke_span(self, trace_header: str | None, function_name: str, request_id: str) -> Iterator[str]:
        """Span ``invoke`` continuing the caller's trace; yields the trace header to pass to the function."""
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

        header = trace_header or ""
        root = _ROOT.search(header)
        trace_hex = root.group(1) + root.group(2) if root else f"{int(time.time()):08x}{secrets.token_hex(12)}"
        parent = _PARENT.search(header)
        parent_id = int(parent.group(1), 16) if parent else int(secrets.token_hex(8), 16)
        remote = SpanContext(int(trace_hex, 16), parent_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        ctx = trace.set_span_in_context(NonRecordingSpan(remote))
        attrs = {"faas.name": function_name, "faas.invocation_id": request_id}
        with self.tracer.start_as_current_span("invoke", context=ctx, kind=SpanKind.SERVER, attributes=attrs) as span:
            span_id = span.get_span_context().span_id
            yield f"Root=1-{trace_hex[:8]}-{trace_hex[8:]};Parent={span_id:016x};Sampled=1"

    def span(self, name: str) -> Any:
        return self.tracer.start_as_current_span(name)

    def instrument(self, invoker: Any) -> None:
        """Wrap an Invoker's steps in spans (instance attributes: a disabled invoker is left untouched)."""
        envs = invoker.environments
        for target, attr, name in ((invoker, "_acquire", "scheduler.acquire"), (envs, "start", "container.start"),
                                   (envs, "post", "container.invoke")):
            setattr(target, attr, self._wrap(name, getattr(target, attr)))
        untraced = invoker.invoke

        def invoke(req: Any) -> Any:
            request_id = req.request_id or str(uuid.uuid4())
            ref = req.function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
            with self.invoke_span(req.trace_id, ref, request_id) as header:
                return untraced(dataclasses.replace(req, request_id=request_id, trace_id=header))

        invoker.invoke = invoke

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with self.tracer.start_as_current_span(name):
                return fn(*args, **kwargs)

        return traced

    def shutdown(self) -> None:
        self.provider.shutdown()


def make(endpoint: str | None) -> Tracing | None:
    """Tracing to the OTLP endpoint, or None (no endpoint, or the SDK is not installed)."""
    if not endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning("LAMINA_OTLP_ENDPOINT is set but opentelemetry-sdk and its OTLP exporter are not installed "
                    "(pip install 'lamina[otel]'); tracing is off")
        return None
    return Tracing(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))
