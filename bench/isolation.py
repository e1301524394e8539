"""Benchmark (not a test): the same no-op Python function under Isolation "container" (runc) and "gvisor"
(runsc), side by side, at MemorySize 128 (Lambda's default) and 1769 (one vCPU), through lamina's API.

Reports, per sandbox and memory size: cold start p50/p99 (a configuration change before each, so a new
environment; a network sandbox ready), warm invoke p50/p99 (sequential, one keep-alive connection);
baselines in the same run: ``docker run --rm`` of the same image to exit under each runtime.

    eval "$(scripts/services.sh docker)"; python bench/isolation.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import invoke as bench
from common import docker_runs, pct
from lamina.executor.images import image_for_runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=10)
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.cold, args.warm = 4, 150
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    with bench.served("lamina-bench-iso-", ["python3.11"]) as lam:
        client, api = lam.client, lam.api
        if "runsc" not in (client.api.info().get("Runtimes") or {}):
            raise SystemExit("the Docker engine has no runsc runtime: run scripts/services.sh docker as root")
        image = image_for_runtime(lam.settings, "python3.11")
        noop = ["python3", "-c", "pass"]
        baselines = {rt: docker_runs(client, image, noop, args.cold, rt) for rt in ("runc", "runsc")}
        for sandbox in ("container", "gvisor"):
            for memory in (128, 1769):
                bench.NAME = f"bench-{sandbox}-{memory}"
                bench.create_function(api, memory)
                api.call("PUT", f"/lamina/v1/functions/{bench.NAME}/isolation",
                         json.dumps({"Isolation": sandbox}).encode())
                api.invoke()  # extracts the code
                print(f"{sandbox} at {memory} MB ...", file=sys.stderr)
                cold, _ = bench.cold_starts(api, lam.reaper, lam.pool, args.cold, sandbox=True)
                for _ in range(50):
                    api.invoke()
                warm = [api.invoke() for _ in range(args.warm)]
                results[(sandbox, memory)] = {"cold": cold, "warm": warm}
                api.call("DELETE", f"/2015-03-31/functions/{bench.NAME}", ok=(204,))
                lam.reaper.tick()

    def ms(values: list[float]) -> str:
        return f"{pct(values, 0.5):.1f} / {pct(values, 0.99):.1f}" if values else "-"

    print(f"\n### Isolation: runc beside gVisor ({os.cpu_count()} CPUs)\n")
    print("| Measure | container (runc) p50 / p99 ms | gvisor (runsc) p50 / p99 ms | gvisor / container (p50) |")
    print("|---|---|---|---|")
    run_c, run_g = baselines["runc"], baselines["runsc"]
    print(f"| `docker run --rm` to exit (baseline), n={len(run_c)} | {ms(run_c)} | {ms(run_g)} | "
          f"{pct(run_g, 0.5) / pct(run_c, 0.5):.2f}x |")
    for what in ("cold", "warm"):
        for memory in (128, 1769):
            c, g = results[("container", memory)][what], results[("gvisor", memory)][what]
            label = "cold start through the API" if what == "cold" else "warm invoke through the API"
            print(f"| {label}, {memory} MB, n={len(c)} | {ms(c)} | {ms(g)} | {pct(g, 0.5) / pct(c, 0.5):.2f}x |")


if __name__ == "__main__":
    main()
