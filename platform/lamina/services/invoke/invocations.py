"""Synchronous invoke: resolve the function, place the call on an environment, run it, give it back.

Warm path (the common case): one Redis round trip (``Pool.acquire`` resolves the cached spec, checks the
concurrency limits and takes an idle environment in a single Lua script), one HTTP request to that
environment's agent over a kept-alive connection, one Redis round trip (``Pool.release``). No PostgreSQL
query and no Docker API call.

Cold path: ``acquire`` reserves a slot, the code is extracted once on the host, the container is created
and started (~250 ms, most of it Docker's network set-up), and the request is posted as soon as the agent
listens. The first invoke runs without a CPU limit (Lambda-like init boost); the proportional limit is
applied in the background once it answers.

An environment that times out, crashes or fails to initialise answers with ``X-Lamina-Reset``: it is
forgotten at once and its container removed on a background thread, never on the caller's path.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import random
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
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
from lamina.executor import code
from lamina.executor.docker_env import (
    AGENT_PORT,
    LOG_MOUNT,
    ContainerSpec,
    DockerEnv,
    ExecutorError,
    env_labels,
    socket_dir,
)
from lamina.scheduler import catalog, keys, sandboxes
from lamina.scheduler.admission import Admission, AdmissionChecker
from lamina.scheduler.placement import Decision
from lamina.scheduler.pool import Lease, Miss, Pool, ReservationsMiss
from lamina.services import arns
from lamina.services.agent_client import AgentConnection, Connections, ProtocolError, Reply
from lamina.services.iam import secrets as secrets_at_rest
from lamina.services.invoke import tracing
from lamina.services.invoke.metrics import Metrics
from lamina.services.invoke.retry_join import JOIN_MIN_TIMEOUT_S, ClientCall, RetryJoin

log = logging.getLogger(__name__)

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # 6 291 456 bytes, request and response
MAX_ASYNC_PAYLOAD = 1024 * 1024
MAX_CLIENT_CONTEXT = 3583
INIT_TIMEOUT_S = 10
NO_NETWORK = "none"  # VpcConfig SubnetIds ["none"]: Docker's network mode none
CLIENT_TIMEOUT_SLACK_S = 5.0  # beyond the function timeout the agent enforces itself
AGENT_CONNECT_WINDOW_S = 15.0  # how long a cold start waits for the agent to listen
CONNECTIONS_PER_THREAD = 128

Resolver = Callable[[Any, str, str, str | None], Mapping[str, Any]]
# (sessions, account id) -> (sum of reserved concurrency, the account's own concurrency quota or None)
ReservationsReader = Callable[[Any, str], tuple[int, int | None]]


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
    cold: bool = False
    trace_id: str | None = None


class _AgentTimeout(Exception):
    pass


class _AgentGone(Exception):
    pass


class _AgentUnreachable(Exception):
    pass


class _Retry(Exception):
    """The environment we were given is not usable; forget it and place the invocation again.

    ``fresh``: its runtime had died while idle and the event never reached it; run it on a new environment.
    """

    def __init__(self, fresh: bool = False) -> None:
        super().__init__()
        self.fresh = fresh


class Invoker:
    """Runs synchronous invocations; one per process, shared by its threads."""

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
        self.blob_path = blob_path
        self._docker_client = docker_client
        self._docker: DockerEnv | None = None
        self._resolve = resolve
        self._reservations = reservations
        self._image_for_runtime = image_for_runtime
        self._agent_dir = agent_dir
        self.init_boost = init_boost
        self.sandboxes = settings.sandboxes if sandboxes is None else sandboxes
        self._replenishing = threading.Lock()
        # Set by the asynchronous-invocation side: enqueue_event(request, spec) queues an Event invoke.
        self.enqueue_event: Callable[[InvocationRequest, Mapping[str, Any]], None] | None = None
        self.pool = Pool(
            redis_client,
            account_limit=settings.account_concurrency,
            memory_budget_mb=memory_budget_mb or settings.effective_memory_budget_mb,
            max_envs=settings.max_environments,
        )
        self._admission = AdmissionChecker(redis_client)
        self.retry_join = RetryJoin(redis_client, settings.instance)
        self._gateway: str | None = None  # the function network's gateway address (function_endpoint)
        self._conns = Connections(CONNECTIONS_PER_THREAD)
        self._background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lamina-invoke-bg")
        # In-process counters, flushed to Redis in batches off the caller's path (lamina.services.invoke.metrics).
        self.metrics = Metrics(redis_client, retention_s=settings.metrics_retention_s,
                               totals_key=metrics_totals_key)
        # OpenTelemetry spans only when an OTLP endpoint is configured (lamina.services.invoke.tracing).
        self.tracing = tracing.make(settings.otlp_endpoint)
        if self.tracing is not None:
            self.tracing.instrument(self)

    # -- collaborators, made on first use so importing or building an app touches neither Docker nor code

    @property
    def docker(self) -> DockerEnv:
        if self._docker is None:
            self._docker = DockerEnv(self._docker_client())
        return self._docker

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

    def image_for_runtime(self, runtime: str) -> str:
        if self._image_for_runtime is None:
            from lamina.executor import images

            self._image_for_runtime = lambda rt: images.image_for_runtime(self.settings, rt)
        return self._image_for_runtime(runtime)

    def agent_dir(self) -> Path:
        if self._agent_dir is None:
            from lamina.executor import images

            self._agent_dir = images.agent_dir
        return self._agent_dir()

    def close(self) -> None:
        self._background.shutdown(wait=True)
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
            self.spec(req.account_id, name, qual)
            return InvocationResult(status=204)
        if req.invocation_type == "Event":
            # Asynchronous invocation (queue, retries, destinations) lives in the worker, which plugs
            # itself in as ``enqueue_event``; without it, say so rather than run it synchronously.
            if self.enqueue_event is None:
                raise InvalidParameterValueException("InvocationType Event is not supported by this lamina yet")
            spec = self.spec(req.account_id, name, qual)
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
                lease = self._acquire(req.account_id, name, qual, fresh=fresh, admission=admission)
            except TooManyRequestsException as err:
                if err.reason != "CallerRateLimitExceeded":
                    metrics.throttled(req.account_id, name)
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
            except _Retry as retry:
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
        return cached if cached is not None else self._fill(account_id, name, qualifier)

    def _fill(self, account_id: str, name: str, qualifier: str) -> dict[str, Any]:
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
    ) -> Lease:
        for _ in range(5):
            got = self.pool.acquire(
                account_id, name, qualifier, now=time.time(), rand=random.random(), new_env_id=_new_env_id(),
                fresh=fresh, admit=admission,
            )
            admission = None  # the script ran the checks, whatever it answered
            if isinstance(got, Miss):
                self._fill(account_id, name, got.qualifier)
                continue
            if isinstance(got, ReservationsMiss):
                gen = catalog.reservations_generation(self.redis, account_id)
                reserved, quota = self.account_concurrency(account_id)
                catalog.fill_reservations(self.redis, account_id, reserved, gen, limit=quota)
                continue
            if got.evicted:
                self._remove_later(got.evicted)
            return got
        # Only reachable when the function is being changed faster than we can read it.
        raise ServiceException(f"Function {name} is changing; retry the invocation")

    def _run(
        self,
        req: InvocationRequest,
        lease: Lease,
        name: str,
        qualifier: str | None,
        client_context: str | None,
        redeliver: bool = True,
    ) -> InvocationResult:
        """Run the invocation on ``lease``'s environment.

        Raises _Retry when the environment turned out unusable before the event reached the runtime
        (with ``redeliver``, also when its runtime had died while idle: the agent says ``exit`` and
        ``X-Lamina-Dispatched: 0``).
        """
        spec = lease.spec
        version = str(spec.get("version") or "$LATEST")
        timeout_s = int(spec.get("timeout") or 3)
        address, container_id = lease.address, lease.container_id
        cold = lease.decision is Decision.COLD
        if lease.decision is Decision.FROZEN:
            try:
                self.docker.unpause(container_id)
            except ExecutorError as err:
                log.warning("cannot thaw environment %s of %s: %s", lease.env_id, name, err)
                self._forget(lease.env_id, container_id)
                raise _Retry() from None
        try:
            if cold:
                address, container_id = self._start(lease, name)
        except LambdaError:
            self._forget(lease.env_id)
            raise
        except Exception as err:
            self._forget(lease.env_id)
            log.exception("cannot start an environment for %s", name)
            raise ServiceException(f"Cannot start an execution environment for {name}: {err}") from None

        request_id = req.request_id or str(uuid.uuid4())
        trace_id = req.trace_id or _trace_id()
        invoked_arn = arns.function_arn(self.settings.region, req.account_id, name, qualifier)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + timeout_s) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": invoked_arn,
            "Lambda-Runtime-Trace-Id": trace_id,
            "X-Lamina-Version": version,
            "X-Lamina-Timeout-S": str(timeout_s),
            "Content-Type": "application/json",
        }
        if client_context:
            headers["Lambda-Runtime-Client-Context"] = client_context
        if req.log_type == "Tail":
            headers["X-Lamina-Log-Tail"] = "1"
        socket_timeout = timeout_s + CLIENT_TIMEOUT_SLACK_S + (INIT_TIMEOUT_S if cold else 0)
        try:
            # Lambda hands a function invoked without a payload the event {}.
            reply = self._post(lease.env_id, address, req.payload or b"{}", headers, socket_timeout, cold)
        except _AgentTimeout:
            self._forget(lease.env_id, container_id)
            return replace(_platform_error(
                version, "Sandbox.Timedout",
                f"{_rfc3339()} {request_id} Task timed out after {timeout_s:.2f} seconds",
            ), duration_ms=timeout_s * 1000.0, cold=cold, trace_id=trace_id)
        except _AgentUnreachable as err:
            self._forget(lease.env_id, container_id)
            if cold:
                log.warning("agent of new environment %s of %s never listened: %s", lease.env_id, name, err)
                raise ServiceException(f"The execution environment of {name} did not start") from None
            log.warning("environment %s of %s is unreachable (%s); placing the call again", lease.env_id, name, err)
            raise _Retry() from None
        except _AgentGone as err:
            log.warning("environment %s of %s went away mid-invoke: %s", lease.env_id, name, err)
            self._forget(lease.env_id, container_id)
            return replace(_platform_error(
                version, "Runtime.ExitError",
                f"RequestId: {request_id} Error: Runtime exited without providing a reason",
            ), cold=cold, trace_id=trace_id)

        if reply.status != 200:
            # 409 means two invocations met on one environment: our bookkeeping is wrong; do not reuse it.
            self._forget(lease.env_id, container_id)
            raise ServiceException(f"Execution environment answered HTTP {reply.status}")
        if reply.headers.get("x-lamina-reset") == "1":
            self._forget(lease.env_id, container_id)
            if (redeliver and reply.headers.get("x-lamina-outcome") == "exit"
                    and reply.headers.get("x-lamina-dispatched") == "0"):
                log.info("runtime of environment %s of %s had exited; running %s on a new one",
                         lease.env_id, name, request_id)
                raise _Retry(fresh=True)
        else:
            released = self.pool.release(lease.env_id, time.time())
            if released.outcome == "retired":
                self._remove_later(released.container_ids)
            if cold and self.init_boost:
                self._later(
                    self.docker.limit_cpu, container_id, ContainerSpec.cpu_for(int(spec.get("memory_size") or 128))
                )
        function_error = reply.headers.get("x-lamina-function-error") or None
        return InvocationResult(
            status=200,
            payload=reply.body,
            content_type=reply.headers.get("content-type") or "application/json",
            executed_version=version,
            function_error=function_error,
            log_result=reply.headers.get("x-lamina-log-result") if req.log_type == "Tail" else None,
            duration_ms=_float_header(reply.headers.get("x-lamina-duration-ms")),
            init_duration_ms=_float_header(reply.headers.get("x-lamina-init-duration-ms")),
            max_memory_mb=_int_header(reply.headers.get("x-lamina-max-memory-mb")),
            cold=cold,
            trace_id=trace_id,
        )

    # -- environments

    def _start(self, lease: Lease, name: str) -> tuple[str, str]:
        """Cold start: create and start the container of ``lease``; return (address, container id)."""
        cspec = self.container_spec(lease.env_id, lease.spec)
        if lease.sandbox_id:
            cspec = replace(cspec, sandbox_id=lease.sandbox_id, sandbox_ip=lease.address)
        if self.sandboxes:
            self._later(self.replenish_sandboxes)  # one was used (or there was none): top the list up
        started = self.docker.start(cspec)
        if not self.pool.started(lease.env_id, started.ip, started.container_id):
            # The reaper gave up on this start (lease expired): do not run on a container nobody tracks.
            self._remove_later([started.container_id])
            raise ServiceException(f"Execution environment of {name} was reclaimed while starting")
        return started.ip, started.container_id

    def function_endpoint(self) -> str:
        """The API's URL as function code sees it: LAMINA_PUBLIC_URL; else, for an API listening on every
        interface, its port on the function network's gateway (the host, as seen from the bridge)."""
        s = self.settings
        if s.public_url or s.host not in ("0.0.0.0", "::"):
            return s.base_url
        if self._gateway is None:
            self.docker.ensure_network(s.docker_network)
            ipam = self.docker.api.inspect_network(s.docker_network).get("IPAM") or {}
            self._gateway = next((c["Gateway"] for c in ipam.get("Config") or [] if c.get("Gateway")), "")
        return f"http://{self._gateway}:{s.port}" if self._gateway else s.base_url

    def replenish_sandboxes(self) -> int:
        """Start network sandboxes until ``self.sandboxes`` are ready; return how many were started."""
        if not self._replenishing.acquire(blocking=False):
            return 0  # another thread of this process is at it
        try:
            return sandboxes.replenish(self.pool, self.docker, self.sandbox_image(), self.settings.docker_network,
                                       self.settings.instance, self.sandboxes)
        finally:
            self._replenishing.release()

    def sandbox_image(self) -> str:
        from lamina.executor import images

        return images.base_image_tag(self.settings)

    def container_spec(self, env_id: str, spec: Mapping[str, Any]) -> ContainerSpec:
        """Build the ContainerSpec of environment ``env_id`` for a resolved function spec."""
        s = self.settings
        account_id, name = str(spec["account_id"]), str(spec["function_name"])
        version = str(spec.get("version") or "$LATEST")
        memory = int(spec.get("memory_size") or 128)
        runtime = str(spec.get("runtime") or "")
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{env_id}"
        variables = spec.get("environment") or {}
        if isinstance(variables, str):  # sealed in the spec cache (_fill)
            try:
                variables = json.loads(secrets_at_rest.decrypt(s, variables))
            except secrets_at_rest.SecretsError:  # sealed under a master key rotated away since: re-read
                version_ = str(spec.get("version") or "$LATEST")
                variables = self.resolve(account_id, name, None if version_ == "$LATEST" else version_)["environment"]
        env: dict[str, str] = {str(k): str(v) for k, v in variables.items()}
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": s.region,
            "AWS_DEFAULT_REGION": s.region,
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "TZ": "UTC",
            "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                               "/var/task:/var/task/lib:/opt/lib",
            "LAMINA_LOG_FILE": f"{LOG_MOUNT}/{stream.replace('/', '-')}",
            "LAMINA_AGENT_PORT": str(AGENT_PORT),
            "LAMINA_INIT_TIMEOUT_S": str(INIT_TIMEOUT_S),
        })
        # The execution role's credentials, valid only while this environment runs an invocation.
        from lamina.services.iam import sessions

        env.update(sessions.environment(self, spec, env_id))
        if "AWS_ENDPOINT_URL_LAMBDA" in env and not s.public_url:
            env["AWS_ENDPOINT_URL_LAMBDA"] = self.function_endpoint()
        task_dir = opt_dir = None
        working_dir: str | None = None
        if spec.get("package_type") == "Image":
            image = str(spec.get("image_uri") or "")
            info = self.docker.image_info(image)
            ic = spec.get("image_config") or {}
            entrypoint = list(ic.get("EntryPoint") or info.entrypoint)
            command = list(ic.get("Command") or info.cmd)
            env["LAMINA_RUNTIME_CMD"] = json.dumps(entrypoint + command)
            if command:
                env["_HANDLER"] = command[0]
            env["PATH"] = _with_opt_bin(info.env.get("PATH"))
            working_dir = ic.get("WorkingDirectory") or info.working_dir or None
        else:
            image = self.image_for_runtime(runtime)
            env["_HANDLER"] = str(spec.get("handler") or "")
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
            if not runtime.startswith("provided"):
                env["LAMINA_RUNTIME_CMD"] = json.dumps(["/var/runtime/bootstrap"])
            env["PATH"] = _with_opt_bin(self.docker.image_info(image).env.get("PATH"))
            task_dir = code.task_dir(s.data_dir, self.blob_path, str(spec["code_key"]))
            opt_dir = code.opt_dir(s.data_dir, self.blob_path, _layer_keys(spec.get("layers") or ()))
            working_dir = "/var/task"
        full_cpu = ContainerSpec.cpu_for(memory)
        return ContainerSpec(
            name=f"lamina-{name}-{env_id[:12]}",
            image=image,
            environment=env,
            memory_mb=memory,
            tmp_mb=int(spec.get("ephemeral_storage") or 512),
            agent_dir=self.agent_dir(),
            log_dir=code.log_dir(s.data_dir, account_id, name),
            network=s.docker_network,
            labels=env_labels(
                s.instance, env_id, f"{account_id}:{name}", version,
                keys.pool_id(account_id, name, version, str(spec.get("revision_id") or "")),
            ),
            task_dir=task_dir,
            opt_dir=opt_dir,
            working_dir=working_dir,
            nano_cpus=None if self.init_boost else full_cpu,
            **self._network_of(env_id, spec.get("vpc_config")),
        )

    def _network_of(self, env_id: str, vpc: Any) -> dict[str, Any]:
        """ContainerSpec fields of a function's VpcConfig: SubnetIds ``["none"]`` is no network at all (the
        agent is reached through a unix socket in a directory of its own); other SubnetIds are Docker
        networks to attach besides the egress bridge."""
        subnets = list(vpc.get("SubnetIds") or []) if isinstance(vpc, dict) else []
        if subnets == [NO_NETWORK]:
            return {"no_network": True, "socket_dir": self._socket_dir(env_id)}
        return {"extra_networks": tuple(subnets)}

    def _socket_dir(self, env_id: str) -> Path:
        return socket_dir(self.settings.data_dir, env_id)

    def _forget(self, env_id: str, container_id: str = "") -> None:
        """Drop ``env_id`` from the pool and remove its containers in the background."""
        shutil.rmtree(self._socket_dir(env_id), ignore_errors=True)
        recorded = self.pool.discard(env_id)
        if recorded:
            self._remove_later(recorded)
        elif container_id:
            self._remove_later([container_id])

    def _remove_later(self, container_ids: Sequence[str]) -> None:
        """Remove containers on a background thread, in order (an environment before its sandbox)."""
        ids = [c for c in container_ids if c]
        if ids:
            self._later(lambda: [self._remove(c) for c in ids])

    def _later(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on the background pool, logging (not losing) any exception."""

        def run() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("background task %s failed", getattr(fn, "__name__", fn))

        self._background.submit(run)

    def _remove(self, container_id: str) -> None:
        try:
            self.docker.remove(container_id)
        except ExecutorError as err:
            # The scheduler's sweep removes any labelled container it does not know about.
            log.warning("%s", err)

    # -- HTTP to the agent

    def _post(
        self, env_id: str, address: str, body: bytes, headers: dict[str, str], timeout: float, cold: bool
    ) -> Reply:
        """POST /invoke to the agent at ``address``.

        Raises _AgentTimeout (no answer in ``timeout``), _AgentGone (the connection broke after the
        request was sent) or _AgentUnreachable (nothing was sent: the environment is not there).
        """
        conn = self._conns.take(env_id)
        connect_until = time.monotonic() + AGENT_CONNECT_WINDOW_S
        while True:
            if conn is None:
                conn = AgentConnection(address, AGENT_PORT, timeout)
            reused, sent = conn.reused, False
            try:
                conn.send("/invoke", body, headers, timeout)
                sent = True
                reply, keep = conn.receive()
            except OSError as err:
                conn.close()
                conn = None
                if reused and (not sent or isinstance(err, ConnectionError | ProtocolError)):
                    # A kept-alive connection the agent had closed: once more on a fresh one.
                    continue
                if sent:
                    if isinstance(err, TimeoutError):
                        raise _AgentTimeout() from None
                    raise _AgentGone(str(err) or type(err).__name__) from None
                if cold and time.monotonic() < connect_until:
                    # The container is up but its agent does not listen yet.
                    time.sleep(0.002)
                    continue
                raise _AgentUnreachable(str(err) or type(err).__name__) from None
            except ValueError as err:  # a malformed Content-Length or status code
                conn.close()
                raise _AgentGone(str(err)) from None
            if keep:
                self._conns.give(env_id, conn)
            else:
                conn.close()
            return reply


def _new_env_id() -> str:
    """A 32-hex-digit environment id without an os.urandom call per invoke (most are never used: a warm
    acquire takes an existing environment). ``random`` is seeded from urandom and reseeded in a forked
    child, so gunicorn workers do not share a sequence."""
    return f"{random.getrandbits(128):032x}"


def _platform_error(version: str, error_type: str, message: str) -> InvocationResult:
    body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
    return InvocationResult(status=200, payload=body, executed_version=version, function_error="Unhandled")


def _float_header(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _int_header(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def _error_type(payload: bytes) -> str:
    """The errorType of a function error's body (only read on the error path)."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return "Unhandled"
    value = doc.get("errorType") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else "Unhandled"


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


def _layer_keys(layers: Sequence[Any]) -> list[str]:
    return [str(layer["code_key"]) for layer in layers if isinstance(layer, Mapping) and layer.get("code_key")]


def _with_opt_bin(path: str | None) -> str:
    base = path or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return base if "/opt/bin" in base.split(":") else f"{base}:/opt/bin"


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


def _rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

