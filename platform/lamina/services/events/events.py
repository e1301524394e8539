"""Asynchronous invocation: accept an event, run it at least once, retry it, and deliver its outcome.

An accepted event is a Redis hash (``keys.event``) written in the same transaction as its RQ job, so
an event the API answered 202 for is never without a job or a schedule. Its life::

    queued --claim--> running --success / retries exhausted / too old--> done (+ destination)
      ^                  |
      |                  +-- function error (retries left) or throttle: queued again, on ``delayed``
      +--- lease expired (the worker died): queued again by ``sweep``

``gen`` is a fencing token: every (re)queueing increments it and a job carries the ``gen`` it was
enqueued for. ``claim`` runs the job only if the event is queued at that ``gen``, so duplicate jobs
(an RQ retry, two sweepers) do nothing, and a worker that lost its lease cannot record an outcome.
While an event runs, its worker renews a lease (``keys.RUNNING``, scored by deadline); ``sweep``,
run by every worker, requeues events whose lease ran out and enqueues delayed events that are due.
State changes that matter (retry, completion with its destination) are WATCH/MULTI transactions.

Retries follow Lambda: a function error is retried ``MaximumRetryAttempts`` times (default 2) after
``settings.async_retry_delays_s`` (1 and 2 minutes); a throttle or a platform error is retried with an
exponential back-off that does not use up attempts; an event older than ``MaximumEventAgeInSeconds``
(default 6 hours) is not run again and goes to OnFailure with condition ``EventAgeExceeded``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import redis

from lamina.errors import LambdaError, ResourceNotFoundException, TooManyRequestsException
from lamina.services import arns
from lamina.services.common import Deps
from lamina.services.invoke import lineage
from lamina.services.invoke import metrics as invoke_metrics
from lamina.services.invoke.requests import InvocationRequest, InvocationResult, Invokes
from lamina.services.queues import messages, queues
from lamina.threads import BackgroundLoop

log = logging.getLogger(__name__)

QUEUE_NAME = "lamina"
JOB = "lamina.worker.jobs.invoke_async"
DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 21600
SWEEP_BATCH = 500
# The condition of an event stopped as one invocation too many of a chain (a recursive loop).
RECURSIVE_CONDITION = "RecursiveInvocationException"

_CLAIM = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'running', 'started', ARGV[3])
local starts = redis.call('HGET', KEYS[1], 'starts')
redis.call('HSET', KEYS[1], 'starts', starts and (starts .. ',' .. ARGV[3]) or ARGV[3])
if not redis.call('HGET', KEYS[1], 'first_started') then
  redis.call('HSET', KEYS[1], 'first_started', ARGV[3])
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
return 1
"""

# Requeue the events whose lease ran out: back to queued at a new gen, due at once.
_RECOVER = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local ev = ARGV[3] .. id
  if redis.call('HGET', ev, 'state') == 'running' then
    redis.call('HSET', ev, 'state', 'queued')
    redis.call('HINCRBY', ev, 'gen', 1)
    redis.call('HINCRBY', ev, 'recovered', 1)
    redis.call('ZADD', KEYS[2], ARGV[1], id)
    n = n + 1
  end
end
return n
"""


# Rescue the events whose job was enqueued but will never claim them: the job is gone (lost between Redis
# and RQ) or it was dequeued by a worker that died before the claim. Such an event goes back to delayed at
# a new gen, due at once, so the sweep enqueues a new job; the old job, should it still run, is fenced off.
_RESCUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, id in ipairs(ids) do
  local ev = ARGV[3] .. id
  local f = redis.call('HMGET', ev, 'state', 'gen', 'enq')
  if f[1] ~= 'queued' or f[2] ~= f[3] then
    redis.call('ZREM', KEYS[1], id)  -- claimed, done, gone, or waiting on delayed: not stranded
  elseif redis.call('HGET', ARGV[4] .. id .. '_' .. f[2], 'status') == 'queued'
      and not redis.call('LPOS', KEYS[3], id .. '_' .. f[2]) then
    -- still waiting its turn in RQ (not taken into a worker's hands: the intermediate list): look again later
    redis.call('ZADD', KEYS[1], ARGV[5], id)
  else
    redis.call('HINCRBY', ev, 'gen', 1)
    redis.call('HINCRBY', ev, 'rescued', 1)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], ARGV[5], id)
    n = n + 1
  end
end
return n
"""


class keys:  # noqa: N801 - a namespace, like lamina.scheduler.keys
    PREFIX = "lamina:ev:"
    RUNNING = "lamina:ev-running"
    DELAYED = "lamina:ev-delayed"
    # Events whose job is enqueued (and not yet claimed), scored by when it was enqueued or last checked.
    QUEUED = "lamina:ev-queued"
    # RQ's job hashes, and the list a worker moves a job to as it dequeues it (before the job is marked
    # started); tests/worker/test_async_rescue.py checks both against RQ.
    RQ_JOB_PREFIX = "rq:job:"
    RQ_INTERMEDIATE = f"rq:queue:{QUEUE_NAME}:intermediate"

    @staticmethod
    def event(request_id: str) -> str:
        return f"lamina:ev:{request_id}"

    @staticmethod
    def job_id(request_id: str, gen: int) -> str:
        """The RQ job of an event's ``gen``-th queueing."""
        return f"{request_id}_{gen}"


# -- accepting


def _qualifier(spec: Mapping[str, Any]) -> str:
    return str(spec.get("alias") or spec.get("version") or arns.LATEST)


def _stage(pipe: Any, queue: Any, request_id: str, account_id: str, name: str, qualifier: str, payload: bytes,
           keep_s: int, timeout_s: int, source: str = "invoke", trace: str = "", tenant: str = "") -> None:
    pipe.hset(keys.event(request_id), mapping={
        "account": account_id, "function": name, "qualifier": qualifier, "payload": payload,
        "accepted": repr(time.time()), "gen": 1, "enq": 1, "state": "queued", "invokes": 0,
        "retries": 0, "throttles": 0, "source": source, "trace": trace, "tenant": tenant,
    })
    # Done events expire; queued ones are kept until they are done (see _finish).
    pipe.persist(keys.event(request_id))
    pipe.zadd(keys.QUEUED, {request_id: time.time()})
    queue.enqueue_call(JOB, args=(request_id, 1), pipeline=pipe, **_job_options(request_id, 1, timeout_s, keep_s))


def _job_options(request_id: str, gen: int, timeout_s: int, keep_s: int) -> dict[str, Any]:
    return {
        "job_id": keys.job_id(request_id, gen),
        # Beyond the function timeout the invoker enforces itself (cold start and init included).
        "timeout": int(timeout_s) + 120,
        "result_ttl": 0,
        "failure_ttl": keep_s,
        "description": f"invoke_async {request_id} #{gen}",
    }


def accept(deps: Deps, queue: Any, account_id: str, spec: Mapping[str, Any], payload: bytes,
           request_id: str | None = None, source: str = "invoke", pipe: Any = None,
           caller_trace: str | None = None, tenant_id: str | None = None) -> str:
    """Accept an Event invocation of the resolved function ``spec``; return its request id.

    With ``pipe`` (a pipeline in MULTI mode) the writes join the caller's transaction and run when it executes.
    ``caller_trace``: the trace header of the request (or event) that started it, which counts the chain.
    """
    rid = request_id or str(uuid.uuid4())
    own = pipe is None
    p = deps.redis.pipeline() if own else pipe
    if own:
        p.multi()  # explicitly, as RQ's enqueue_call expects of a pipeline it is handed
    name = str(spec["function_name"])
    trace = lineage.next_hop(caller_trace, arns.function_arn(deps.settings.region, account_id, name))
    _stage(p, queue, rid, account_id, name, _qualifier(spec), payload,
           deps.settings.async_keep_s, int(spec.get("timeout") or 3), source, trace, tenant_id or "")
    if own:
        p.execute()
    return rid


def accept_named(deps: Deps, queue: Any, account_id: str, name: str, qualifier: str | None, payload: bytes,
                 request_id: str | None = None, source: str = "invoke", pipe: Any = None) -> str:
    """Accept an Event invocation of function ``name`` at ``qualifier`` (resolved when it runs)."""
    spec = {"function_name": name, "version": qualifier or arns.LATEST, "timeout": 900}
    return accept(deps, queue, account_id, spec, payload, request_id=request_id, source=source, pipe=pipe)


def enqueue_request(deps: Deps, queue: Any, req: InvocationRequest, spec: Mapping[str, Any]) -> None:
    """The invoke path's ``enqueue_event`` hook: queue an ``InvocationType=Event`` request (202)."""
    accept(deps, queue, req.account_id, spec, req.payload or b"{}", request_id=req.request_id or None,
           caller_trace=req.trace_id, tenant_id=req.tenant_id)


def get_event(r: redis.Redis, request_id: str) -> dict[str, str] | None:
    """The stored state of event ``request_id`` (strings; ``payload`` and ``result`` included), or None."""
    raw = cast("dict[bytes, bytes]", r.hgetall(keys.event(request_id)))
    if not raw:
        return None
    return {k.decode(): v.decode(errors="replace") for k, v in raw.items()}


# -- running


class LeaseKeeper(BackgroundLoop):
    """Renews the running leases of the events this process runs, all on one thread.

    A worker process makes one (``lamina.worker.context.Runtime.leases``); ``hold`` registers an event
    for the duration of a block. Should the process die, renewals stop and the sweep requeues its events.
    """

    join_timeout_s = 5.0

    def __init__(self, r: redis.Redis, lease_s: float) -> None:
        super().__init__("lamina-leases")
        self.r, self.lease_s = r, lease_s
        self.held: set[str] = set()
        self.lock = threading.Lock()

    @contextmanager
    def hold(self, request_id: str) -> Iterator[None]:
        with self.lock:
            self.held.add(request_id)
        try:
            yield
        finally:
            with self.lock:
                self.held.discard(request_id)

    def _run(self) -> None:
        while not self.stop_event.wait(self.lease_s / 3):
            with self.lock:
                ids = list(self.held)
            if not ids:
                continue
            try:
                deadline = time.time() + self.lease_s
                self.r.zadd(keys.RUNNING, dict.fromkeys(ids, deadline), xx=True)
            except redis.RedisError as err:
                log.warning("cannot renew the leases of %d event(s): %s", len(ids), err)


@contextmanager
def _lease(r: redis.Redis, request_id: str, lease_s: float, keeper: LeaseKeeper | None) -> Iterator[None]:
    """Hold ``request_id``'s lease for the block: on ``keeper``, or on a keeper of its own."""
    if keeper is not None:
        with keeper.hold(request_id):
            yield
        return
    own = LeaseKeeper(r, lease_s).start()
    try:
        with own.hold(request_id):
            yield
    finally:
        own.stop()


def _config(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    eic = (spec or {}).get("event_invoke_config") or {}
    retries = eic.get("maximum_retry_attempts")
    age = eic.get("maximum_event_age_s")
    return {
        "retries": DEFAULT_RETRIES if retries is None else int(retries),
        "max_age": DEFAULT_MAX_AGE_S if age is None else int(age),
        "on_success": eic.get("on_success") or None,
        "on_failure": eic.get("on_failure") or None,
    }


def run(deps: Deps, queue: Any, invoker: Invokes, request_id: str, gen: int, leases: LeaseKeeper | None = None) -> str:
    """Run event ``request_id`` at ``gen`` once (the job body); return what happened.

    Returns ``"skipped"`` when the event is not queued at ``gen`` (a duplicate job), else the outcome:
    ``Success``, ``RetriesExhausted``, ``EventAgeExceeded``, ``retry``, ``throttled`` or ``dropped``.
    """
    r = deps.redis
    s = deps.settings
    now = time.time()
    claimed = r.register_script(_CLAIM)(
        keys=[keys.event(request_id), keys.RUNNING, keys.QUEUED],
        args=[str(gen), now + s.async_lease_s, repr(now), request_id],
    )
    if not claimed:
        return "skipped"
    raw = cast("dict[bytes, bytes]", r.hgetall(keys.event(request_id)))
    payload = raw.pop(b"payload", None) or b"{}"
    ev = {k.decode(): v.decode(errors="replace") for k, v in raw.items()}
    account, name, qualifier = ev["account"], ev["function"], ev["qualifier"]
    with _lease(r, request_id, s.async_lease_s, leases):
        try:
            spec = invoker.spec(account, name, qualifier)
        except ResourceNotFoundException:
            log.warning("event %s: function %s:%s no longer exists; dropped", request_id, name, qualifier)
            _finish(deps, queue, invoker, request_id, gen, "dropped", None, None)
            return "dropped"
        cfg = _config(spec)
        if now - float(ev["accepted"]) > cfg["max_age"]:
            _finish(deps, queue, invoker, request_id, gen, "EventAgeExceeded", cfg, None)
            return "EventAgeExceeded"
        trace = ev.get("trace") or None
        if lineage.stops(trace, spec.get("recursive_loop")):
            log.warning("event %s: %s is the invocation %d of a chain of events (a recursive loop); stopped, as its "
                        "RecursionConfig is Terminate", request_id, name, lineage.count(trace))
            invoke_metrics.recursion_dropped(r, account, name)
            _finish(deps, queue, invoker, request_id, gen, RECURSIVE_CONDITION, cfg, None)
            return RECURSIVE_CONDITION
        try:
            result = invoker.invoke(InvocationRequest(
                account_id=account, function_name=name, qualifier=qualifier, payload=payload,
                request_id=request_id, trace_id=trace, tenant_id=ev.get("tenant") or None,
            ))
        except TooManyRequestsException:
            return _throttled(deps, queue, invoker, request_id, gen, ev, cfg, "throttles")
        except ResourceNotFoundException:
            _finish(deps, queue, invoker, request_id, gen, "dropped", None, None)
            return "dropped"
        except LambdaError as err:
            # Platform trouble (no environment could start...): retried like a throttle.
            log.warning("event %s: invocation failed (%s: %s); retrying", request_id, err.error_type, err)
            return _throttled(deps, queue, invoker, request_id, gen, ev, cfg, "errors")
        r.hincrby(keys.event(request_id), "invokes", 1)
        if result.function_error:
            used = int(ev.get("retries") or 0)
            if used < cfg["retries"]:
                delays = s.async_retry_delays_s or (60.0,)
                delay = delays[min(used, len(delays) - 1)]
                decided_at = time.time()
                if _requeue(deps, request_id, gen, decided_at + delay, {"retries": used + 1}, result, decided_at):
                    return "retry"
                return "skipped"
            _finish(deps, queue, invoker, request_id, gen, "RetriesExhausted", cfg, result)
            return "RetriesExhausted"
        _finish(deps, queue, invoker, request_id, gen, "Success", cfg, result)
        return "Success"


def _throttled(deps: Deps, queue: Any, invoker: Invokes, request_id: str, gen: int, ev: Mapping[str, str],
               cfg: Mapping[str, Any], counter: str) -> str:
    s = deps.settings
    n = int(ev.get("throttles") or 0)
    delay = min(s.async_throttle_delay_s * (2 ** n), s.async_throttle_max_delay_s)
    due = time.time() + delay
    if due - float(ev["accepted"]) > cfg["max_age"]:
        _finish(deps, queue, invoker, request_id, gen, "EventAgeExceeded", cfg, None)
        return "EventAgeExceeded"
    _requeue(deps, request_id, gen, due, {"throttles": n + 1}, None, due - delay)
    return "throttled"


def _owned(pipe: Any, request_id: str, gen: int) -> bool:
    state, current = pipe.hmget(keys.event(request_id), "state", "gen")
    return state == b"running" and current == str(gen).encode()


def _result_fields(result: InvocationResult | None) -> dict[Any, Any]:
    if result is None:
        return {}
    return {"result": result.payload, "function_error": result.function_error or "",
            "executed_version": result.executed_version or ""}


def _requeue(deps: Deps, request_id: str, gen: int, due: float, fields: Mapping[Any, Any],
             result: InvocationResult | None, decided_at: float) -> bool:
    """Put a running event back on ``delayed`` at ``gen + 1`` (``due`` was reckoned at ``decided_at``);
    False if this worker no longer owns it."""
    key = keys.event(request_id)
    with deps.redis.pipeline() as pipe:
        try:
            pipe.watch(key)
            if not _owned(pipe, request_id, gen):
                return False
            # When each retry was decided and when it is due (for inspection and the delay tests).
            marks = cast("list[bytes | None]", pipe.hmget(key, "retried_at", "retry_due"))
            decided, dues = (v.decode() + "," if v else "" for v in marks)
            pipe.multi()
            pipe.hset(key, mapping={"state": "queued", "gen": gen + 1, **fields, **_result_fields(result),
                                    "retried_at": decided + repr(decided_at), "retry_due": dues + repr(due)})
            pipe.zadd(keys.DELAYED, {request_id: due})
            pipe.zrem(keys.RUNNING, request_id)
            pipe.execute()
            return True
        except redis.WatchError:
            return False


def _json_or_text(raw: bytes | None) -> Any:
    if raw is None or raw == b"":
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def destination_record(deps: Deps, ev: Mapping[str, str], payload: bytes, condition: str,
                       result: InvocationResult | None, invokes: int) -> dict[str, Any]:
    """Lambda's destination record for an event's outcome (shared/spec/lambda-api.md §7.6)."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {
            "requestId": ev["request_id"],
            "functionArn": arns.function_arn(deps.settings.region, ev["account"], ev["function"], ev["qualifier"]),
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
        "requestPayload": _json_or_text(payload),
    }
    if result is not None:
        ctx: dict[str, Any] = {"statusCode": result.status, "executedVersion": result.executed_version}
        if result.function_error:
            ctx["functionError"] = result.function_error
        record["responseContext"] = ctx
        record["responsePayload"] = _json_or_text(result.payload)
    return record


def _finish(deps: Deps, queue: Any, invoker: Invokes, request_id: str, gen: int, condition: str,
            cfg: Mapping[str, Any] | None, result: InvocationResult | None) -> bool:
    """Mark the event done and deliver its destination in one transaction; False if not owned."""
    r = deps.redis
    key = keys.event(request_id)
    raw = cast("dict[bytes, bytes]", r.hgetall(key))
    payload = raw.pop(b"payload", None) or b""
    ev = {k.decode(): v.decode(errors="replace") for k, v in raw.items()}
    ev["request_id"] = request_id
    invokes = int(ev.get("invokes") or 0)
    if result is None and ev.get("result") is not None and condition == "EventAgeExceeded" and invokes:
        # The last attempt's answer, for a record of an event that was run before it aged out.
        result = InvocationResult(status=200, payload=raw.get(b"result") or b"",
                                  executed_version=ev.get("executed_version") or None,
                                  function_error=ev.get("function_error") or None)
    dest = None
    if cfg is not None:
        dest = cfg["on_success"] if condition == "Success" else cfg["on_failure"]
    target = _destination(deps, invoker, ev["account"], dest) if dest else None
    with r.pipeline() as pipe:
        try:
            pipe.watch(key)
            if not _owned(pipe, request_id, gen):
                return False
            pipe.multi()
            pipe.hset(key, mapping={"state": "done", "condition": condition, "finished": repr(time.time()),
                                    **_result_fields(result)})
            pipe.expire(key, deps.settings.async_keep_s)
            pipe.zrem(keys.RUNNING, request_id)
            if target is not None:
                record = json.dumps(destination_record(deps, ev, payload, condition, result, invokes))
                kind, value = target
                trace = ev.get("trace") or None
                if kind == "function":
                    accept(deps, queue, ev["account"], value, record.encode(), source="destination", pipe=pipe,
                           caller_trace=trace)
                else:
                    messages.stage_send(pipe, ev["account"], value, record, trace=trace)
            pipe.execute()
        except redis.WatchError:
            return False
    if condition not in ("Success", "dropped"):
        log.info("event %s of %s ended %s after %d invocation(s)", request_id, ev.get("function"), condition, invokes)
    return True


def _destination(deps: Deps, invoker: Invokes, account_id: str, arn: str) -> tuple[str, Any] | None:
    """('function', spec) or ('queue', name) for a destination ARN that exists; None (logged) otherwise."""
    try:
        if ":sqs:" in arn:
            name = queues.parse_arn(deps, arn)
            if not queues.exists(deps, account_id, name):
                raise ResourceNotFoundException(f"queue {arn} does not exist")
            return "queue", name
        if ":lambda:" in arn:
            ref = arns.parse_function_name(arn, deps.settings.region, account_id)
            return "function", invoker.spec(account_id, ref.name, ref.qualifier or arns.LATEST)
        raise ResourceNotFoundException(f"lamina cannot deliver to {arn}")
    except LambdaError as err:
        log.warning("destination %s not delivered: %s", arn, err)
        return None


# -- sweeping (every worker, a few times a second)


def sweep(deps: Deps, queue: Any, now: float | None = None) -> int:
    """Requeue events whose lease expired or whose job will never run them, and enqueue delayed events
    that are due; return how many were enqueued."""
    r = deps.redis
    now = time.time() if now is None else now
    r.register_script(_RECOVER)(keys=[keys.RUNNING, keys.DELAYED], args=[repr(now), SWEEP_BATCH, keys.PREFIX])
    rescued = r.register_script(_RESCUE)(
        keys=[keys.QUEUED, keys.DELAYED, keys.RQ_INTERMEDIATE],
        args=[repr(now - deps.settings.async_rescue_after_s), SWEEP_BATCH, keys.PREFIX, keys.RQ_JOB_PREFIX,
              repr(now)],
    )
    if rescued:
        log.warning("%d queued event(s) had no job that would run them (a worker died holding it); requeued",
                    rescued)
    due = cast("list[bytes]", r.zrangebyscore(keys.DELAYED, "-inf", now, start=0, num=SWEEP_BATCH))
    n = 0
    for raw in due:
        rid = raw.decode()
        key = keys.event(rid)
        with r.pipeline() as pipe:
            try:
                pipe.watch(key)
                state, gen, enq = pipe.hmget(key, "state", "gen", "enq")
                if state != b"queued" or gen is None:
                    pipe.multi()
                    pipe.zrem(keys.DELAYED, rid)
                    pipe.execute()
                    continue
                if enq == gen:  # someone enqueued this gen already
                    pipe.multi()
                    pipe.zrem(keys.DELAYED, rid)
                    pipe.execute()
                    continue
                g = int(gen)
                pipe.multi()
                pipe.hset(key, "enq", g)
                pipe.zadd(keys.QUEUED, {rid: time.time()})
                queue.enqueue_call(JOB, args=(rid, g), pipeline=pipe,
                                   **_job_options(rid, g, 900, deps.settings.async_keep_s))
                pipe.zrem(keys.DELAYED, rid)
                pipe.execute()
                n += 1
            except redis.WatchError:
                continue
    return n
