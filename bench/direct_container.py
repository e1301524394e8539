"""Baseline: a direct POST /invoke to one warm python container, no platform in between.

Starts one container of lamina's python runtime image the way the executor does (agent as PID 1,
read-only root, user 993:990), sends N sequential invokes of a no-op handler over one keep-alive
connection and prints p50/p99/mean in ms. The platform benchmark compares its warm path with this.

    python bench/direct_container.py [-n 1000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from lamina.config import Settings
from lamina.executor.images import agent_dir, docker_client, ensure_images, image_for_runtime

HANDLER = "def handler(event, context):\n    return None\n"


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


def cpu_ticks(pid: int) -> int:
    """utime + stime of a host process, in clock ticks (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def runtime_pid(agent_pid: int) -> int | None:
    for task in Path(f"/proc/{agent_pid}/task").iterdir():
        children = (task / "children").read_text().split()
        if children:
            return int(children[0])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="timed invokes (after 100 warm-up calls)")
    args = parser.parse_args()
    settings = Settings.from_env()
    client = docker_client()
    ensure_images(client, settings, ["python"], log=print)
    with tempfile.TemporaryDirectory(prefix="lamina-bench-") as tmp:
        code = Path(tmp) / "code"
        logs = Path(tmp) / "logs"
        code.mkdir()
        logs.mkdir()
        (code / "app.py").write_text(HANDLER)
        code.chmod(0o755)
        (code / "app.py").chmod(0o644)
        logs.chmod(0o777)
        container = client.containers.run(
            image_for_runtime(settings, "python3.11"),
            entrypoint=["python3", "-S", "/var/lamina/agent.py"],
            environment={
                "LAMINA_RUNTIME_CMD": json.dumps(["/var/runtime/bootstrap"]),
                "LAMINA_LOG_FILE": "/var/log/lamina/bench",
                "_HANDLER": "app.handler",
                "AWS_LAMBDA_FUNCTION_NAME": "bench",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            },
            volumes={
                str(agent_dir()): {"bind": "/var/lamina", "mode": "ro"},
                str(code): {"bind": "/var/task", "mode": "ro"},
                str(logs): {"bind": "/var/log/lamina", "mode": "rw"},
            },
            read_only=True,
            tmpfs={"/tmp": "size=512m"},
            user="993:990",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit="128m",
            memswap_limit="128m",
            labels={"lamina.managed": "1", "lamina.bench": "1"},
            detach=True,
        )
        try:
            container.reload()
            ip = container.attrs["NetworkSettings"]["IPAddress"]
            conn = http.client.HTTPConnection(ip, 8080, timeout=10)
            for _ in range(200):
                try:
                    conn.request("GET", "/ready")
                    conn.getresponse().read()
                    break
                except OSError:
                    conn.close()
                    time.sleep(0.01)
            samples: list[float] = []
            agent_pid = int(container.attrs["State"]["Pid"])
            child = None
            for i in range(100 + args.n):
                if i == 100:
                    child = runtime_pid(agent_pid)
                    agent_before = cpu_ticks(agent_pid)
                    runtime_before = cpu_ticks(child) if child else 0
                headers = {"Lambda-Runtime-Aws-Request-Id": f"bench-{i}", "X-Lamina-Timeout-S": "3"}
                t0 = time.perf_counter()
                conn.request("POST", "/invoke", body=b"{}", headers=headers)
                resp = conn.getresponse()
                resp.read()
                elapsed = (time.perf_counter() - t0) * 1000.0
                if resp.getheader("X-Lamina-Outcome") != "success":
                    raise SystemExit(f"invoke failed: {resp.getheader('X-Lamina-Outcome')}")
                if i >= 100:
                    samples.append(elapsed)
            tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
            agent_us = (cpu_ticks(agent_pid) - agent_before) * tick_us / args.n
            runtime_us = ((cpu_ticks(child) - runtime_before) * tick_us / args.n) if child else float("nan")
            samples.sort()
            print(
                f"direct POST /invoke, no-op python handler, {args.n} sequential calls on one keep-alive connection: "
                f"p50 {percentile(samples, 0.50):.3f} ms  p99 {percentile(samples, 0.99):.3f} ms  "
                f"mean {statistics.fmean(samples):.3f} ms"
            )
            print(f"CPU per invoke: agent {agent_us:.0f} us, runtime {runtime_us:.0f} us (clock-tick resolution)")
        finally:
            container.remove(force=True)
            client.close()


if __name__ == "__main__":
    main()
