"""What an invocation is, between the HTTP layer, the triggers and the invoker: request, result, limits.

``Invokes`` is the interface events, function URLs and event source mappings are handed (the invoker,
``lamina.services.invoke.invocations.Invoker``, implements it), so they depend on this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from lamina.scheduler.admission import Admission
from lamina.services.invoke.retry_join import ClientCall

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # 6 291 456 bytes, request and response
MAX_ASYNC_PAYLOAD = 1024 * 1024
MAX_CLIENT_CONTEXT = 3583


@dataclass(frozen=True)
class InvocationRequest:
    account_id: str
    function_name: str  # as the caller gave it: name, name:qualifier, partial or full ARN
    payload: bytes = b""
    qualifier: str | None = None
    invocation_type: str = "RequestResponse"
    log_type: str = "None"
    client_context: str | None = None  # base64, as sent in X-Amz-Client-Context
    request_id: str = ""
    trace_id: str | None = None
    tenant_id: str | None = None  # X-Amz-Tenant-Id: a PER_TENANT function's environments serve one tenant
    # The API's authentication checks still to run (``lamina.api.auth`` defers them to us): inside the
    # pool's acquire for a synchronous invoke, on their own otherwise.
    admission: Admission | None = None
    # The SDK call this request is an attempt of (amz-sdk-invocation-id): a retry joins the first attempt.
    client_call: ClientCall | None = None


@dataclass(frozen=True)
class InvocationResult:
    status: int
    payload: bytes = b""
    content_type: str = "application/json"
    executed_version: str | None = None
    function_error: str | None = None
    log_result: str | None = None  # base64 of the log tail, LogType=Tail only
    # Observability (not part of the Invoke answer): what the agent measured, for metrics and the console.
    duration_ms: float | None = None
    init_duration_ms: float | None = None
    max_memory_mb: int | None = None
    memory_mb: int | None = None  # the MemorySize it ran with (usage metering)
    cold: bool = False
    trace_id: str | None = None


class Invokes(Protocol):
    """Runs an invocation synchronously (or queues it, for InvocationType Event)."""

    def invoke(self, req: InvocationRequest) -> InvocationResult: ...

    def spec(self, account_id: str, name: str, qualifier: str) -> dict[str, Any]:
        """The runnable spec of name:qualifier (raises ResourceNotFoundException)."""
        ...
