"""The ContainerSpec of a new execution environment: what Lambda puts in its environment, what it mounts.

Built here, not in the scheduler, because it needs what only services have: the function's environment
variables opened from their encryption at rest, and a role session for its execution role. The host side
(images, extracted code, mounts, labels) comes from ``lamina.scheduler.environments.Environments``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lamina import runtimes
from lamina.config import Settings
from lamina.scheduler import keys
from lamina.scheduler.environments import (
    AGENT_PORT,
    BOOST_NANO_CPUS,
    INIT_TIMEOUT_S,
    ContainerSpec,
    Environments,
    layer_keys,
    oci_runtime,
)
from lamina.services.iam import secrets as secrets_at_rest
from lamina.services.iam import sessions
from lamina.services.volumes import volumes

NO_NETWORK = "none"  # VpcConfig SubnetIds ["none"]: Docker's network mode none

# (account id, function name, qualifier or None) -> the resolved spec, read from PostgreSQL
Resolve = Callable[[str, str, str | None], Mapping[str, Any]]


def build(settings: Settings, envs: Environments, session_deps: Any, resolve: Resolve,
          env_id: str, spec: Mapping[str, Any]) -> ContainerSpec:
    """The ContainerSpec of environment ``env_id`` for a resolved function spec.

    ``session_deps`` (settings, sessions, redis) mints the execution role's session.
    """
    s = settings
    account_id, name = str(spec["account_id"]), str(spec["function_name"])
    version = str(spec.get("version") or "$LATEST")
    memory = int(spec.get("memory_size") or 128)
    runtime = str(spec.get("runtime") or "")
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{env_id}"
    variables = spec.get("environment") or {}
    if isinstance(variables, str):  # sealed in the spec cache (Invoker.fill)
        try:
            variables = json.loads(secrets_at_rest.decrypt(s, variables))
        except secrets_at_rest.SecretsError:  # sealed under a master key rotated away since: re-read
            variables = resolve(account_id, name, None if version == "$LATEST" else version)["environment"]
    env: dict[str, str] = {str(k): str(v) for k, v in variables.items()}
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": str(spec.get("log_group") or f"/aws/lambda/{name}"),
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": str(spec.get("initialization_type") or "on-demand"),
        "AWS_REGION": s.region,
        "AWS_DEFAULT_REGION": s.region,
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": "UTC",
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                           "/var/task:/var/task/lib:/opt/lib",
        "LAMINA_AGENT_PORT": str(AGENT_PORT),
        "LAMINA_INIT_TIMEOUT_S": str(INIT_TIMEOUT_S),
    })
    logging_config = spec.get("logging_config") or {}
    if logging_config.get("LogFormat") == "JSON":
        # What AWS's runtime clients read to log JSON records at a level; the agent's own lines follow the
        # system level (LAMINA_ variables never reach the runtime).
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = str(logging_config.get("ApplicationLogLevel") or "INFO")
        env["LAMINA_SYSTEM_LOG_LEVEL"] = str(logging_config.get("SystemLogLevel") or "INFO")
    # The execution role's credentials, valid only while this environment runs an invocation.
    env.update(sessions.environment(session_deps, spec, env_id))
    if "AWS_ENDPOINT_URL_LAMBDA" in env and not s.public_url:
        env.update(sessions.service_endpoints(envs.function_endpoint()))
    task_dir = opt_dir = None
    working_dir: str | None = None
    if spec.get("package_type") == "Image":
        image = str(spec.get("image_uri") or "")
        info = envs.image_info(image)
        ic = spec.get("image_config") or {}
        entrypoint = list(ic.get("EntryPoint") or info.entrypoint)
        command = list(ic.get("Command") or info.cmd)
        env["LAMINA_RUNTIME_CMD"] = json.dumps(entrypoint + command)
        if command:
            env["_HANDLER"] = command[0]
        env["PATH"] = _with_opt_bin(info.env.get("PATH"))
        working_dir = ic.get("WorkingDirectory") or info.working_dir or None
    else:
        # A function pinned to a runtime version runs that image (by id); else the runtime's current one.
        image = str(spec.get("runtime_image") or "") or envs.runtime_image(runtime)
        env["_HANDLER"] = str(spec.get("handler") or "")
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
        env.update(runtimes.get(runtime).environment)
        bootstrap = runtimes.get(runtime).bootstrap
        if bootstrap is not None:  # None: the agent runs the function's own bootstrap (provided*)
            env["LAMINA_RUNTIME_CMD"] = json.dumps(list(bootstrap))
        env["PATH"] = _with_opt_bin(envs.image_info(image).env.get("PATH"))
        task_dir = envs.task_dir(str(spec["code_key"]))
        opt_dir = envs.opt_dir(layer_keys(spec.get("layers") or ()))
        working_dir = "/var/task"
    full_cpu = ContainerSpec.cpu_for(memory)
    oci = oci_runtime(spec)
    boost = envs.init_boost and envs.cpu_limit_later(oci)
    return ContainerSpec(
        name=f"lamina-{name}-{env_id[:12]}",
        image=image,
        environment=env,
        memory_mb=memory,
        tmp_mb=int(spec.get("ephemeral_storage") or 512),
        agent_dir=envs.agent_dir(),
        network=s.docker_network,
        labels=envs.labels(env_id, f"{account_id}:{name}", version,
                           keys.pool_id(account_id, name, version, str(spec.get("revision_id") or ""),
                                        str(spec.get("tenant_id") or ""))),
        task_dir=task_dir,
        opt_dir=opt_dir,
        working_dir=working_dir,
        nano_cpus=max(full_cpu, BOOST_NANO_CPUS) if boost else full_cpu,
        boosted=boost,
        oci_runtime=oci,
        volumes=tuple((Path(m["dir"]), m["path"]) for m in volumes.mounts_of(
            s, account_id, spec.get("file_system_configs"))),
        **_network_of(envs, env_id, spec.get("vpc_config")),
    )


def _network_of(envs: Environments, env_id: str, vpc: Any) -> dict[str, Any]:
    """ContainerSpec fields of a function's VpcConfig: SubnetIds ``["none"]`` is no network at all (the
    agent is reached through a unix socket in a directory of its own); other SubnetIds are Docker
    networks to attach besides the egress bridge."""
    subnets = list(vpc.get("SubnetIds") or []) if isinstance(vpc, dict) else []
    if subnets == [NO_NETWORK]:
        return {"no_network": True, "socket_dir": envs.socket_dir(env_id)}
    return {"extra_networks": tuple(subnets)}


def _with_opt_bin(path: str | None) -> str:
    base = path or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return base if "/opt/bin" in base.split(":") else f"{base}:/opt/bin"
