"""Soak (not a test): a steady mixed load for ``--minutes`` (10 by default), watching every platform process.

lamina as separate processes (``lamina serve``, ``lamina scheduler``, ``lamina worker --processes 2``) on
real PostgreSQL (a fresh database on the server LAMINA_DATABASE_URL or LAMINA_TEST_DATABASE_URL names), a
redis-server of its own and Docker. Four functions, two at MemorySize 128 and two at 1024; each second
``--sync-rate`` synchronous invokes and ``--async-rate`` asynchronous ones, spread over the functions.

Reports, per platform process (its whole process group), the resident memory after the warm-up minute and
at the end (growth must stay under 10 %), the sync p50/p99 of the first and the last minute, errors, and
async events not completed.

    eval "$(scripts/services.sh all)"; python bench/soak.py [--minutes 10] [--sync-rate 20] [--async-rate 10]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import redis
from async_chaos import Install, Proc, _wait, _zip
from common import pct
from lamina.services.events import events

FUNCTIONS = (("soak-small-a", 128), ("soak-small-b", 128), ("soak-large-a", 1024), ("soak-large-b", 1024))


def group_rss_kb(pid: int) -> int:
    """Resident memory (KiB) of every process in ``pid``'s process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sync-rate", type=float, default=20.0, help="synchronous invokes per second")
    parser.add_argument("--async-rate", type=float, default=10.0, help="asynchronous invokes per second")
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args()
    inst = Install.make("lamina-soak-", "everysec")
    data_dir, env = inst.data_dir, inst.env
    creds, api = inst.creds, inst.api
    procs = {
        "lamina serve": Proc(["serve", "--workers", "2", "--threads", "32"], env, data_dir / "server.log"),
        "lamina scheduler": Proc(["scheduler"], env, data_dir / "scheduler.log"),
        "lamina worker --processes 2": Proc(["worker", "--processes", "2"], env, data_dir / "worker.log"),
    }
    r = redis.Redis.from_url(env["LAMINA_REDIS_URL"])
    stop = threading.Event()
    lock = threading.Lock()
    sync_ms: list[tuple[float, float]] = []  # (seconds since start, latency ms)
    errors: list[str] = []
    async_ids: list[str] = []
    memory: list[tuple[float, dict[str, int]]] = []
    t_start = time.monotonic()
    try:
        for p in procs.values():
            p.start()
        _wait(api.healthy, 60, "the API answering")
        for name, mb in FUNCTIONS:
            status, _h, body = api.call("POST", "/2015-03-31/functions", {
                "FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler", "MemorySize": mb,
                "Role": f"arn:aws:iam::{creds['AccountId']}:role/soak", "Code": {"ZipFile": _zip()}})
            assert status == 201, body

        def load(rate: float, kind: str) -> None:
            interval, n = 1.0 / rate, 0
            next_at = time.monotonic()
            while not stop.is_set():
                name = FUNCTIONS[n % len(FUNCTIONS)][0]
                n += 1
                headers = {"X-Amz-Invocation-Type": "Event"} if kind == "async" else {}
                t0 = time.monotonic()
                try:
                    status, h, body = api.call("POST", f"/2015-03-31/functions/{name}/invocations", {"i": n},
                                               headers)
                except OSError as err:
                    status, h, body = 0, {}, str(err).encode()
                took = (time.monotonic() - t0) * 1000
                with lock:
                    if kind == "sync" and status == 200 and "x-amz-function-error" not in h:
                        sync_ms.append((t0 - t_start, took))
                    elif kind == "async" and status == 202:
                        async_ids.append(h["x-amzn-requestid"])
                    else:
                        errors.append(f"{kind} {status} {body[:200]!r}")
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

        loaders = [threading.Thread(target=load, args=(args.sync_rate / 2, "sync"), daemon=True) for _ in range(2)]
        loaders.append(threading.Thread(target=load, args=(args.async_rate, "async"), daemon=True))
        for t in loaders:
            t.start()
        end = t_start + args.minutes * 60
        while time.monotonic() < end:
            assert all(p.proc is not None and p.proc.poll() is None for p in procs.values()), "a process died"
            memory.append((time.monotonic() - t_start, {k: group_rss_kb(p.proc.pid) for k, p in procs.items()
                                                         if p.proc is not None}))
            time.sleep(10)
        stop.set()
        for t in loaders:
            t.join(timeout=30)
        deadline = time.monotonic() + 120
        pipe_ids = list(async_ids)
        while time.monotonic() < deadline:
            pipe = r.pipeline(transaction=False)
            for rid in pipe_ids:
                pipe.hget(events.keys.event(rid), "condition")
            conditions = pipe.execute()
            if all(c is not None for c in conditions):
                break
            time.sleep(1)
        not_done = sum(1 for c in conditions if c is None)
        not_success = sum(1 for c in conditions if c not in (None, b"Success"))
    finally:
        stop.set()
        for p in reversed(list(procs.values())):
            p.stop()
        inst.tear_down()

    warm = next(m for t, m in memory if t >= 60) if any(t >= 60 for t, _ in memory) else memory[0][1]
    last = memory[-1][1]
    first_min = [ms for t, ms in sync_ms if t < 60]
    last_min = [ms for t, ms in sync_ms if t >= args.minutes * 60 - 60]
    result: dict[str, Any] = {
        "minutes": args.minutes, "sync_ok": len(sync_ms), "async_accepted": len(async_ids),
        "errors": len(errors), "error_samples": errors[:5], "async_not_done": not_done,
        "async_not_success": not_success,
        "first_minute_ms": [round(pct(first_min, 0.5), 2), round(pct(first_min, 0.99), 2)] if first_min else None,
        "last_minute_ms": [round(pct(last_min, 0.5), 2), round(pct(last_min, 0.99), 2)] if last_min else None,
        "rss_mib": {k: [round(warm[k] / 1024, 1), round(last[k] / 1024, 1),
                        round(100 * (last[k] - warm[k]) / max(1, warm[k]), 1)] for k in last},
    }
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    print(f"\n### lamina soak ({os.cpu_count()} CPUs, {args.minutes:g} min, {args.sync_rate:g} sync/s + "
          f"{args.async_rate:g} async/s over 2 x 128 MB and 2 x 1024 MB functions)\n")
    print("| Process | RSS after warm-up (MiB) | RSS at the end (MiB) | Growth |")
    print("|---|---|---|---|")
    for k, (a, b, g) in result["rss_mib"].items():
        print(f"| {k} | {a} | {b} | {g:+.1f} % |")
    print()
    print("| Measure | Value |")
    print("|---|---|")
    print(f"| Sync invokes answered / errors | {result['sync_ok']} / {result['errors']} |")
    print(f"| Sync p50 / p99, first minute | {result['first_minute_ms'][0]} / {result['first_minute_ms'][1]} ms |")
    print(f"| Sync p50 / p99, last minute | {result['last_minute_ms'][0]} / {result['last_minute_ms'][1]} ms |")
    print(f"| Async events accepted / not completed / not Success | {result['async_accepted']} / "
          f"{result['async_not_done']} / {result['async_not_success']} |")


if __name__ == "__main__":
    main()
