"""Replicated before acknowledged: with LAMINA_REDIS_MIN_REPLICAS, a request that changed state answers only
once that many Redis replicas hold its writes.

Redis replicates asynchronously; a Sentinel failover promotes a replica and demotes the old master, and what
the old master accepted between the two is gone. So after a mutating request (an accepted event, a sent
message, a put record...), one write and WAIT on the same connection: the replication stream is ordered, so
once the replicas acknowledged that write they hold every write made before it, on any connection. When
they do not within LAMINA_REDIS_WAIT_MS, the caller gets a 500 (which every AWS client retries) instead of
an acknowledgement that a failover could take back.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, request

from lamina.api.errors import error_response
from lamina.errors import ServiceException

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MARK_KEY = "lamina:replicated"


READ_OPERATIONS = ("Get", "List", "Describe", "Filter")  # JSON and query protocols POST their reads too


def _operation() -> str:
    """The operation a request of the AWS JSON or SQS query protocols names ("" for Lambda's REST API)."""
    target = request.headers.get("X-Amz-Target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    if request.path == "/" or request.endpoint == "aws_json.queue_url":
        return request.values.get("Action", "")
    return ""


def _needs_wait(resp: Response) -> bool:
    if request.method not in MUTATING or not 200 <= resp.status_code < 300:
        return False
    if _operation().startswith(READ_OPERATIONS):
        return False
    # A synchronous invoke keeps nothing: its answer is the result, not a promise.
    sync_invoke = request.path.endswith("/invocations") and (
        request.headers.get("X-Amz-Invocation-Type") or "RequestResponse") != "Event"
    return not sync_invoke


def init_app(app: Flask) -> None:
    @app.after_request
    def _replicated(resp: Response) -> Response:
        deps = current_app.extensions.get("lamina")
        if deps is None or not deps.settings.redis_min_replicas or not _needs_wait(resp):
            return resp
        wanted = int(deps.settings.redis_min_replicas)
        pipe = deps.redis.pipeline(transaction=False)
        pipe.incr(MARK_KEY)
        pipe.execute_command("WAIT", wanted, deps.settings.redis_wait_ms)
        try:
            acked = int(pipe.execute()[1])
        except Exception as err:  # noqa: BLE001 - Redis away: the write's fate is unknown, so say so
            log.warning("cannot confirm replication: %s", err)
            acked = 0
        if acked >= wanted:
            return resp
        log.warning("%s %s: %d of %d replicas confirmed its writes in %d ms", request.method, request.path, acked,
                    wanted, deps.settings.redis_wait_ms)
        refused = error_response(ServiceException("The request's changes were not confirmed by Redis replicas; retry."))
        refused.headers["x-amzn-RequestId"] = resp.headers.get("x-amzn-RequestId", "")
        return refused
