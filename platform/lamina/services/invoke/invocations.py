"""Synchronous invoke: resolve the function, place the call on an environment, run it, give it back.

Warm path (the common case): one Redis round trip (``Pool.acquire`` resolves the cached spec, checks the
concurrency limits and takes an idle environment in a single Lua script), one HTTP request to that
environment's agent over a kept-alive connection, one Redis round trip (``Pool.release``). No PostgreSQL
query and no Docker API call.

Cold path: ``acquire`` reserves a slot, and ``lamina.scheduler.environments`` starts the container from
the ``ContainerSpec`` this module builds (``containers.build``: it needs the function's secrets and role
session) and posts the request as soon as the agent listens.

What stays here: validation, the spec cache, SDK retry joining and metrics. The environment's lifecycle
(start, thaw, the agent connection, forgetting and removing it) is ``Environments``'.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis

from lamina.config import Settings
from lamina.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    LambdaError,
    RequestTooLargeException,
    ServiceException,
    TooManyRequestsException,
)
from lamina.scheduler import catalog, fleet, keys, provisioned
from lamina.scheduler.admission import Admission, AdmissionChecker
from lamina.scheduler.environments import (
    AgentCall,
    ContainerSpec,
    Environments,
    EnvironmentUnusable,
    ExecutorError,
)
from lamina.scheduler.pool import TENANT_FORBIDDEN, TENANT_REQUIRED, Lease, Miss, Pool, ReservationsMiss
from lamina.services import arns
from lamina.services.functions import validate
from lamina.services.iam import secrets as secrets_at_rest
from lamina.services.invoke import containers, tracing
from lamina.services.invoke.metrics import Metrics
from lamina.services.invoke.requests import (
    MAX_ASYNC_PAYLOAD,
    MAX_CLIENT_CONTEXT,
    MAX_SYNC_PAYLOAD,
    InvocationRequest,
    InvocationResult,
)
from lamina.services.invoke.retry_join import JOIN_MIN_TIMEOUT_S, RetryJoin
from lamina.services.logs import shared as shared_logs
from lamina.services.usage import meter

__all__ = ["MAX_ASYNC_PAYLOAD", "MAX_SYNC_PAYLOAD", "InvocationRequest", "InvocationResult", "Invoker"]

log = logging.getLogger(__name__)

Resolver = Callable[[Any, str, str, str | None], Mapping[str, Any]]
# (sessions, account id) -> (sum of reserved concurrency, the account's own concurrency quota or None)
ReservationsReader = Callable[[Any, str], tuple[int, int | None]]
# Set by the asynchronous-invocation side: (request, resolved spec) -> the event is queued
EnqueueEvent = Callable[[InvocationRequest, Mapping[str, Any]], None]


class Invoker:
    """Runs synchronous invocations; one per process, shared by its threads (implements ``Invokes``)."""

    def __init__(
        self,
        settings: Settings,
        redis_client: redis.Redis,
        sessions: Any,
        blob_path: Callable[[str], Path],
        docker_client: Callable[[], Any],
        resolve: Resolver | None = None,
        memory_budget_mb: int | None = None,
        image_for_runtime: Callable[[str], str] | None = None,
        agent_dir: Callable[[], Path] | None = None,
        init_boost: bool = True,
        sandboxes: int | None = None,
        reservations: ReservationsReader | None = None,
        metrics_totals_key: str | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis_client
        self.sessions = sessions
        self._resolve = resolve
        self._reservations = reservations
        self.enqueue_event: EnqueueEvent | None = None
        self.pool = Pool(
            redis_client,
            account_limit=settings.account_concurrency,
            memory_budget_mb=memory_budget_mb or settings.effective_memory_budget_mb,
            max_envs=settings.max_environments,
            # A fleet node's own processes start environments on its host; an API placing on nodes is none.
            node=settings.node_id if settings.placement == "local" else "",
        )
        fleet_wide = settings.placement == "fleet" or bool(settings.node_id)
        self.environments = Environments(
            settings, self.pool, docker_client, blob_path, init_boost=init_boost, sandboxes=sandboxes,
            image_for_runtime=image_for_runtime, agent_dir=agent_dir,
            node_token=fleet.node_token(secrets_at_rest.master_keys(settings)[0]) if fleet_wide else "",
            log_sink=shared_logs.writer(sessions) if settings.log_store == "postgres" else None,
        )
        self._admission = AdmissionChecker(redis_client)
        self.retry_join = RetryJoin(redis_client, settings.instance)
        # In-process counters, flushed to Redis in batches off the caller's path (services.invoke.metrics).
        self.metrics = Metrics(redis_client, retention_s=settings.metrics_retention_s,
                               totals_key=metrics_totals_key)
        # OpenTelemetry spans only when an OTLP endpoint is configured (services.invoke.tracing).
        self.tracing = tracing.make(settings.otlp_endpoint)
        if self.tracing is not None:
            self.tracing.instrument(self)

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        # One configuration for the invoker and its environments (tests and the worker swap it whole).
        self._settings = value
        if hasattr(self, "environments"):
            self.environments.settings = value

    def resolve(self, account_id: str, name: str, qualifier: str | None) -> Mapping[str, Any]:
        if self._resolve is None:
            from lamina.services.functions.functions import resolve_for_invoke

            self._resolve = functools.partial(resolve_for_invoke, region=self.settings.region)
        return self._resolve(self.sessions, account_id, name, qualifier)

    def account_concurrency(self, account_id: str) -> tuple[int, int | None]:
        """(sum of the account's reservations, its own concurrency quota or None)."""
        if self._reservations is None:
            from lamina.services.functions.concurrency import account_concurrency

            self._reservations = account_concurrency
        return self._reservations(self.sessions, account_id)

    def container_spec(self, env_id: str, spec: Mapping[str, Any]) -> ContainerSpec:
        """The ContainerSpec of environment ``env_id`` for a resolved function spec (cold starts only)."""
        return containers.build(self.settings, self.environments, self, self.resolve, env_id, spec)

    def close(self) -> None:
        self.environments.close()
        self.metrics.close()
        if self.tracing is not None:
            self.tracing.shutdown()

    # -- the use case

    def invoke(self, req: InvocationRequest) -> InvocationResult:
        """Run one invocation and return what the Invoke API answers.

        Raises LambdaError subclasses for invocation problems (404 unknown function, 413 payload, 429
        throttled, 400 bad request...); function errors are results with ``function_error`` set.
        """
        admission = req.admission
        try:
            name, qualifier, client_context = self._validate(req)
        except LambdaError:
            # A refused caller hears that, not what was wrong with its request.
            self.admit(admission)
            raise
        if req.invocation_type != "RequestResponse":
            self.admit(admission)
            admission = None
        qual = qualifier or "$LATEST"
        if req.invocation_type == "DryRun":
            _check_tenant(self.spec(req.account_id, name, qual), req.tenant_id)
            return InvocationResult(status=204)
        if req.invocation_type == "Event":
            # Asynchronous invocation (queue, retries, destinations) lives in the worker, which plugs
            # itself in as ``enqueue_event``; without it, say so rather than run it synchronously.
            if self.enqueue_event is None:
                raise InvalidParameterValueException("InvocationType Event is not supported by this lamina yet")
            spec = self.spec(req.account_id, name, qual)
            _check_tenant(spec, req.tenant_id)
            self.enqueue_event(req, spec)
            return InvocationResult(status=202, executed_version=None)
        call = req.client_call
        if call is not None and call.attempt > 1:
            self.admit(admission)
            admission = None
            joined = self.retry_join.join(req.account_id, name, call)
            if joined is not None:
                log.info("attempt %d of SDK call %s joined its first attempt", call.attempt, call.invocation_id)
                return InvocationResult(**joined)
        metrics = self.metrics
        fresh = False
        for _ in range(3):
            try:
                lease = self._acquire(req.account_id, name, qual, fresh=fresh, admission=admission,
                                      tenant_id=req.tenant_id)
            except TooManyRequestsException as err:
                if err.reason != "CallerRateLimitExceeded":
                    metrics.throttled(req.account_id, name, qualifier)
                raise
            admission = None  # checked once
            timeout_s = int(lease.spec.get("timeout") or 3)
            # A call that may outlast the SDK's read timeout records itself, so its retry can join it.
            joinable = call if call is not None and timeout_s >= JOIN_MIN_TIMEOUT_S else None
            if joinable is not None:
                self.retry_join.claim(req.account_id, name, joinable, timeout_s)
            metrics.begin(req.account_id, name)
            try:
                # Lambda re-inits silently when a runtime died between invocations: once per invocation.
                result = self._run(req, lease, name, qualifier, client_context, redeliver=not fresh)
            except EnvironmentUnusable as retry:
                fresh = fresh or retry.fresh
                continue
            except BaseException:
                if joinable is not None:
                    self.retry_join.finish(req.account_id, joinable, None)
                raise
            finally:
                metrics.end(req.account_id, name)
            if joinable is not None:
                self.retry_join.finish(req.account_id, joinable, {
                    "status": result.status, "payload": result.payload, "content_type": result.content_type,
                    "executed_version": result.executed_version, "function_error": result.function_error,
                    "log_result": result.log_result, "trace_id": result.trace_id,
                })
            metrics.invoked(
                req.account_id, name, cold=result.cold, duration_ms=result.duration_ms,
                init_duration_ms=result.init_duration_ms,
                error_type=_error_type(result.payload) if result.function_error else None,
                tenant_id=req.tenant_id, qualifier=qualifier, memory_mb=result.memory_mb,
                version=result.executed_version,
            )
            return result
        raise ServiceException(f"No execution environment of {name} could be reached; retry the invocation")

    def admit(self, admission: Admission | None) -> None:
        """Run deferred authentication checks on their own (for a request refused before ``invoke``)."""
        self._admission.check(admission, time.time())

    def _validate(self, req: InvocationRequest) -> tuple[str, str | None, str | None]:
        """(function name, qualifier or None, decoded client context) of a well-formed request."""
        ref = arns.parse_function_name(req.function_name, self.settings.region, req.account_id, req.qualifier)
        name, qualifier = ref.name, ref.qualifier
        if req.invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise InvalidParameterValueException(f"Unsupported InvocationType: {req.invocation_type}")
        if req.log_type not in ("None", "Tail"):
            raise InvalidParameterValueException(f"Unsupported LogType: {req.log_type}")
        if req.tenant_id is not None:
            validate.tenant_id(req.tenant_id)
        if len(req.payload) > MAX_SYNC_PAYLOAD:
            raise RequestTooLargeException(
                f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
            )
        if req.payload.strip():
            try:
                json.loads(req.payload)
            except (ValueError, RecursionError) as err:  # RecursionError: hostile nesting depth
                raise InvalidRequestContentException(
                    f"Could not parse request body into json: Could not parse payload into json: {err}"
                ) from None
        if req.invocation_type == "Event" and len(req.payload) > MAX_ASYNC_PAYLOAD:
            raise RequestTooLargeException(
                f"Request must be smaller than {MAX_ASYNC_PAYLOAD} bytes for the InvokeFunction operation"
            )
        return name, qualifier, _decode_client_context(req.client_context)

    def spec(self, account_id: str, name: str, qualifier: str) -> dict[str, Any]:
        """Return the runnable spec of name:qualifier from the cache, filling it on a miss."""
        cached = catalog.get(self.redis, account_id, name, qualifier)
        return cached if cached is not None else self.fill(account_id, name, qualifier)

    def fill(self, account_id: str, name: str, qualifier: str) -> dict[str, Any]:
        gen = catalog.generation(self.redis, account_id, name)
        spec = dict(self.resolve(account_id, name, None if qualifier == "$LATEST" else qualifier))
        if spec.get("environment"):
            # Redis keeps the cache on disk (AOF): the function's variables stay encrypted there too, and
            # are opened only to start a container (container_spec).
            spec["environment"] = secrets_at_rest.encrypt(self.settings, json.dumps(spec["environment"]))
        catalog.fill(self.redis, account_id, name, qualifier, spec, gen)
        return spec

    def _acquire(
        self, account_id: str, name: str, qualifier: str, fresh: bool = False, admission: Admission | None = None,
        tenant_id: str | None = None,
    ) -> Lease:
        for attempt in range(10):
            got = self.pool.acquire(
                account_id, name, qualifier, now=time.time(), rand=random.random(), new_env_id=_new_env_id(),
                fresh=fresh, admit=admission, tenant_id=tenant_id,
            )
            admission = None  # the script ran the checks, whatever it answered
            if isinstance(got, Miss):
                if attempt >= 2:  # changed again while we read it (a deploy's burst of updates): let it settle
                    time.sleep(min(0.2, 0.005 * 2 ** attempt))
                self.fill(account_id, name, got.qualifier)
                continue
            if isinstance(got, ReservationsMiss):
                gen = catalog.reservations_generation(self.redis, account_id)
                reserved, quota = self.account_concurrency(account_id)
                catalog.fill_reservations(self.redis, account_id, reserved, gen, limit=quota)
                continue
            if got.evicted:
                self.environments.remove_later(got.evicted)
            if tenant_id:  # a new environment of this tenant's pool is labelled with it (containers.build)
                got.spec["tenant_id"] = tenant_id
            return got
        # Only reachable when the function is being changed faster than we can read it.
        raise ServiceException(f"Function {name} is changing; retry the invocation")

    # -- provisioned concurrency (lamina.scheduler.provisioned)

    def provision_later(self, account_id: str, name: str, qualifier: str, requested: int) -> None:
        """``provision`` on a background thread (after a Put or a Delete of the configuration)."""
        self.environments.later(self.provision, account_id, name, qualifier, requested)

    def provision(self, account_id: str, name: str, qualifier: str, requested: int) -> int:
        """Bring the configuration's environments to ``requested`` (0: none); return how many were started.

        Idle surplus environments are let go; busy ones are let go as ordinary environments. One process
        provisions a configuration at a time; a failed initialization is the configuration's StatusReason.
        """
        lock = keys.provisioned_lock(account_id, name, qualifier)
        if not self.redis.set(lock, "1", nx=True, ex=120):
            return 0
        try:
            live = provisioned.live(self.redis, account_id, name, qualifier)
            memory = sum(int(float(self.pool.env(env_id).get("memory") or 0)) for env_id in live)
            meter.provisioned_round(self.redis, account_id, name, qualifier, memory, time.time())
            surplus = len(live) - requested
            for env_id, state in sorted(live.items(), key=lambda kv: kv[1] == "busy"):
                if surplus <= 0:
                    break
                provisioned.unmark(self.redis, account_id, name, qualifier, env_id)
                if state in ("warm", "frozen"):
                    removed = self.pool.reap_if(env_id, time.time(), "idle", 0.0)
                    if removed:
                        self.environments.remove_later(removed)
                surplus -= 1
            started = 0
            for _ in range(requested - len(live)):
                reason = self._provision_one(account_id, name, qualifier)
                provisioned.set_failure(self.redis, account_id, name, qualifier, reason)
                if reason:
                    break
                started += 1
            return started
        finally:
            self.redis.delete(lock)

    def _provision_one(self, account_id: str, name: str, qualifier: str) -> str | None:
        """Start and initialize one provisioned environment; None, or why it failed."""
        try:
            lease = self._acquire(account_id, name, qualifier, fresh=True)
        except LambdaError as err:
            return f"{err.error_type}: {err.message}"
        provisioned.mark(self.redis, account_id, name, qualifier, lease.env_id)
        spec = dict(lease.spec, initialization_type="provisioned-concurrency")
        try:
            address, container_id = self.environments.start(lease, self.container_spec(lease.env_id, spec))
            phase = self.environments.await_init(address)
        except (LambdaError, ExecutorError, OSError) as err:
            self.environments.forget(lease.env_id)
            return f"FUNCTION_ERROR_INIT_FAILURE: {err}"
        if phase != "ready":
            self.environments.forget(lease.env_id, container_id)
            return "FUNCTION_ERROR_INIT_FAILURE: the function's initialization failed" + (
                " (it timed out)" if phase == "init" else "")
        self.environments.end_boost(container_id)  # initialized: the share from now on
        released = self.pool.release(lease.env_id, time.time())
        provisioned.initialized(self.redis, lease.env_id)
        if released.outcome == "retired":
            self.environments.remove_later(released.container_ids)
        return None

    def count_provisioned(self, account_id: str, name: str, qualifier: str | None, env_id: str) -> None:
        """For a qualifier with provisioned concurrency: did this invocation run on one of its environments
        or spill over to an on-demand one (``/metrics``: lamina_provisioned_invocations_total)?"""
        members = keys.provisioned_envs(account_id, name, qualifier or "$LATEST")
        provisioned.count_invocation(self.redis, account_id, name, bool(self.redis.sismember(members, env_id)))

    def _run(
        self,
        req: InvocationRequest,
        lease: Lease,
        name: str,
        qualifier: str | None,
        client_context: str | None,
        redeliver: bool = True,
    ) -> InvocationResult:
        """Run the invocation on ``lease``'s environment; raises EnvironmentUnusable to place it again."""
        version = str(lease.spec.get("version") or "$LATEST")
        trace_id = req.trace_id or _trace_id()
        call = AgentCall(
            request_id=req.request_id or str(uuid.uuid4()),
            trace_id=trace_id,
            invoked_arn=arns.function_arn(self.settings.region, req.account_id, name, qualifier),
            payload=req.payload,
            client_context=client_context,
            log_tail=req.log_type == "Tail",
            tenant_id=req.tenant_id,
        )
        out = self.environments.run(lease, call, self.container_spec, redeliver=redeliver)
        if lease.spec.get("provisioned_concurrency") and out.env_id:
            self.count_provisioned(req.account_id, name, qualifier, out.env_id)
        return InvocationResult(
            status=200, payload=out.payload, content_type=out.content_type, executed_version=version,
            function_error=out.function_error, log_result=out.log_result, duration_ms=out.duration_ms,
            init_duration_ms=out.init_duration_ms, max_memory_mb=out.max_memory_mb, cold=out.cold,
            trace_id=trace_id, memory_mb=int(lease.spec.get("memory_size") or 128),
        )


def _new_env_id() -> str:
    """A 32-hex-digit environment id without an os.urandom call per invoke (most are never used: a warm
    acquire takes an existing environment). ``random`` is seeded from urandom and reseeded in a forked
    child, so gunicorn workers do not share a sequence."""
    return f"{random.getrandbits(128):032x}"


def _check_tenant(spec: Mapping[str, Any], tenant_id: str | None) -> None:
    """The pool's tenant rule (``Pool.acquire``) for an invoke that does not acquire (Event, DryRun)."""
    if bool(spec.get("tenant_isolation")) != bool(tenant_id):
        raise InvalidParameterValueException(TENANT_REQUIRED if spec.get("tenant_isolation") else TENANT_FORBIDDEN)


def error_of(payload: bytes) -> tuple[str, str]:
    """(errorType, errorMessage) of a function error's document (read on the error path only)."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        return "Unhandled", payload.decode("utf-8", "replace")
    kind, message = doc.get("errorType"), doc.get("errorMessage")
    return (kind if isinstance(kind, str) and kind else "Unhandled"), str(message or "")


def _error_type(payload: bytes) -> str:
    return error_of(payload)[0]


def _decode_client_context(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) > MAX_CLIENT_CONTEXT:
        raise InvalidRequestContentException(
            f"Client context must be at most {MAX_CLIENT_CONTEXT} bytes long"
        )
    try:
        decoded = base64.b64decode(value, validate=True).decode()
        json.loads(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.") from None
    return decoded


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"
