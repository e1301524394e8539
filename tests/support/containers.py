"""Execution environments for tests: containers started straight from the Docker SDK as docs/execution.md says.

``EnvFactory.start`` writes a code directory, starts a container with the agent as PID 1 (read-only root,
tmpfs /tmp, user 993:990, no capabilities, no-new-privileges) and returns an ``Env`` that calls the
agent's front door over the default bridge on a keep-alive connection.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
from lamina.executor.images import agent_dir

SESSION = uuid.uuid4().hex[:8]
TEST_LABELS = {"lamina.managed": "1", "lamina.test": "1", "lamina.test-session": SESSION}
ARN = "arn:aws:lambda:us-east-1:000000000000:function:agent-test"


@dataclass
class Result:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def outcome(self) -> str | None:
        return self.headers.get("x-lamina-outcome")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def log_tail(self) -> str:
        return base64.b64decode(self.headers["x-lamina-log-result"]).decode()


@dataclass
class Env:
    """One running execution environment and a keep-alive connection to its front door."""

    container: Any
    ip: str
    timeout_s: float
    _conn: http.client.HTTPConnection | None = field(default=None, repr=False)
    # The log lines the agent handed over with its answers (it keeps them in memory in between).
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.ip, 8080, timeout=timeout)
        self._conn.timeout = timeout
        if self._conn.sock is not None:
            self._conn.sock.settimeout(timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def wait_ready(self, limit: float = 15.0) -> None:
        end = time.monotonic() + limit
        while True:
            try:
                conn = self.connection(2.0)
                conn.request("GET", "/ready")
                resp = conn.getresponse()
                assert resp.status == 200 and json.loads(resp.read())["ready"] is True
                return
            except (OSError, http.client.HTTPException):
                self.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.02)

    def invoke(
        self,
        event: Any = None,
        *,
        raw: bytes | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
        tail: bool = False,
        timeout_s: float | None = None,
    ) -> Result:
        body = raw if raw is not None else json.dumps(event if event is not None else {}).encode()
        fn_timeout = timeout_s if timeout_s is not None else self.timeout_s
        hdrs = {
            "Lambda-Runtime-Aws-Request-Id": request_id or str(uuid.uuid4()),
            "Lambda-Runtime-Deadline-Ms": str(int((time.time() + fn_timeout) * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
            "X-Lamina-Version": "$LATEST",
            "X-Lamina-Timeout-S": str(fn_timeout),
        }
        if tail:
            hdrs["X-Lamina-Log-Tail"] = "1"
        hdrs.update(headers or {})
        conn = self.connection(fn_timeout + 30)
        conn.request("POST", "/invoke", body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        got = {k.lower(): v for k, v in resp.getheaders()}
        size = int(got.get("x-lamina-log-length") or 0)
        if size:
            data, lines = data[:-size], data[-size:]
            self.records += [json.loads(line) for line in lines.decode().splitlines() if line]
        result = Result(resp.status, got, data)
        if resp.will_close:
            self.close()
        return result

    def log_records(self) -> list[dict[str, Any]]:
        return list(self.records)

    def log_messages(self) -> list[str]:
        return [r["msg"] for r in self.log_records()]

    def wait_exit(self, limit: float = 15.0) -> int:
        return int(self.container.wait(timeout=limit)["StatusCode"])


class EnvFactory:
    def __init__(self, client: docker.DockerClient, tmp_path: Path) -> None:
        self.client = client
        self.tmp_path = tmp_path
        self.envs: list[Env] = []

    def code_dir(self, files: dict[str, str | bytes], mode: dict[str, int] | None = None) -> Path:
        code = self.tmp_path / f"code-{len(self.envs)}-{uuid.uuid4().hex[:6]}"
        code.mkdir()
        for name, content in files.items():
            path = code / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
            path.chmod((mode or {}).get(name, 0o644))
        for d in [code, *[p for p in code.rglob("*") if p.is_dir()]]:
            d.chmod(0o755)
        return code

    def start(
        self,
        image: str,
        *,
        files: dict[str, str | bytes] | None = None,
        opt_files: dict[str, str | bytes] | None = None,
        handler: str | None = None,
        runtime_cmd: list[str] | None = None,
        env: dict[str, str] | None = None,
        memory_mb: int = 256,
        timeout_s: float = 3.0,
        mode: dict[str, int] | None = None,
        mount_task: bool = True,
        init_timeout_s: int = 10,
        wait_ready: bool = True,
    ) -> Env:
        stream = "2024-01-01-[$LATEST]" + uuid.uuid4().hex
        environment = {
            "LAMINA_AGENT_PORT": "8080",
            "LAMINA_INIT_TIMEOUT_S": str(init_timeout_s),
            "AWS_LAMBDA_FUNCTION_NAME": "agent-test",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/agent-test",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream.replace("-", "/", 3),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "TZ": "UTC",
        }
        if handler:
            environment["_HANDLER"] = handler
        if runtime_cmd is not None:
            environment["LAMINA_RUNTIME_CMD"] = json.dumps(runtime_cmd)
        environment.update(env or {})
        volumes = {
            str(agent_dir()): {"bind": "/var/lamina", "mode": "ro"},
        }
        if mount_task:
            volumes[str(self.code_dir(files or {}, mode))] = {"bind": "/var/task", "mode": "ro"}
        if opt_files is not None:
            volumes[str(self.code_dir(opt_files, mode))] = {"bind": "/opt", "mode": "ro"}
        container = self.client.containers.run(
            image,
            entrypoint=["python3", "-S", "/var/lamina/agent.py"],
            command=[],
            environment=environment,
            volumes=volumes,
            read_only=True,
            tmpfs={"/tmp": "size=64m"},
            user="993:990",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=f"{memory_mb}m",
            memswap_limit=f"{memory_mb}m",
            pids_limit=1024,
            labels=TEST_LABELS,
            detach=True,
        )
        container.reload()
        e = Env(container, container.attrs["NetworkSettings"]["IPAddress"], timeout_s)
        self.envs.append(e)
        if wait_ready:
            e.wait_ready()
        return e

    def close(self) -> None:
        for e in self.envs:
            e.close()
            try:
                e.container.remove(force=True)
            except docker.errors.NotFound:
                pass


def wait_for(predicate: Any, limit: float = 5.0) -> Any:
    """Poll ``predicate`` until it returns something truthy (log lines land asynchronously)."""
    end = time.monotonic() + limit
    while True:
        value = predicate()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.02)
