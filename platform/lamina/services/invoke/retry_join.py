"""Joining an SDK's retry of a long synchronous invoke instead of running the function a second time.

botocore gives up on a response after its read timeout (60 s by default) and sends the same Invoke again;
Lambda then runs the function twice. Every attempt of one SDK call carries the same
``amz-sdk-invocation-id`` header (and ``amz-sdk-request: attempt=N; max=M``), so lamina can tell a retry
from a new call: an invocation that may outlast the read timeout records itself in Redis under that id,
and a later attempt of the same call waits for the first one's answer and returns it.

Only invocations of functions whose timeout is at least ``JOIN_MIN_TIMEOUT_S`` record themselves (the
others end before botocore's default read timeout), so the warm path of ordinary functions pays nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, cast

import redis

# A function that may run this long (plus its cold start) can outlast botocore's 60 s read timeout.
JOIN_MIN_TIMEOUT_S = 50
RESULT_TTL_S = 300  # how long a finished answer waits for a late retry
POLL_S = 0.1
_ATTEMPT = re.compile(r"attempt=(\d+)")
_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
_FIELDS = ("payload", "content_type", "executed_version", "function_error", "log_result", "trace_id")


@dataclass(frozen=True)
class ClientCall:
    """One SDK call, the same for each of its attempts."""

    invocation_id: str
    attempt: int = 1

    @staticmethod
    def from_headers(invocation_id: str | None, request_header: str | None) -> ClientCall | None:
        """The call of ``amz-sdk-invocation-id`` / ``amz-sdk-request`` headers; None without a usable id."""
        if not invocation_id or not _ID.fullmatch(invocation_id):
            return None
        m = _ATTEMPT.search(request_header or "")
        return ClientCall(invocation_id, int(m.group(1)) if m and len(m.group(1)) < 4 else 1)


class RetryJoin:
    def __init__(self, client: redis.Redis, instance: str) -> None:
        self.redis = client
        self.instance = instance

    def _key(self, account_id: str, call: ClientCall) -> str:
        return f"lamina:{self.instance}:sdkcall:{account_id}:{call.invocation_id}"

    def claim(self, account_id: str, function_name: str, call: ClientCall, timeout_s: float) -> None:
        """Record that ``call`` is running ``function_name`` for up to ``timeout_s`` (plus slack)."""
        key = self._key(account_id, call)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping={"state": "running", "function": function_name,
                                "until": repr(time.time() + timeout_s + 30)})
        pipe.expire(key, int(timeout_s) + 60)
        pipe.execute()

    def finish(self, account_id: str, call: ClientCall, answer: dict[str, Any] | None) -> None:
        """Store the answer for a retry to pick up (None: the call failed before running; let a retry run)."""
        key = self._key(account_id, call)
        if answer is None:
            self.redis.delete(key)
            return
        fields: dict[Any, Any] = {k: ("" if answer.get(k) is None else answer[k]) for k in _FIELDS}
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"state": "done", "status": str(answer.get("status", 200)), **fields})
        pipe.expire(key, RESULT_TTL_S)
        pipe.execute()

    def join(self, account_id: str, function_name: str, call: ClientCall) -> dict[str, Any] | None:
        """For a retry: wait for the first attempt's answer and return it; None when there is nothing to
        join (no earlier attempt recorded, another function, or it failed before running)."""
        key = self._key(account_id, call)
        while True:
            raw = cast("dict[bytes, bytes]", self.redis.hgetall(key))
            if not raw:
                return None
            doc = {k.decode(): v for k, v in raw.items()}
            if doc.get("function", b"").decode() != function_name:
                return None
            if doc.get("state") == b"done":
                answer: dict[str, Any] = {k: (doc.get(k) or b"").decode() or None for k in _FIELDS if k != "payload"}
                answer["payload"] = doc.get("payload") or b""
                answer["status"] = int(doc.get("status") or 200)
                answer["content_type"] = answer["content_type"] or "application/json"
                return answer
            if time.time() > float(doc.get("until") or 0):
                return None  # the first attempt's process died without an answer
            time.sleep(POLL_S)
