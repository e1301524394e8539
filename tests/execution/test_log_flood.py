"""A log flood from inside a function (issue 12's attack suite): 64 MiB printed as fast as the function
can, under runc and gVisor. The agent keeps at most 1 MiB of lines per answer and says how much it
dropped; the stored stream stays bounded, the invoke answers, and a neighbour's warm p99 holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.functions import Functions
from support.invoking import invoke
from support.neighbour import Neighbour

APP = r'''
import sys

def handler(event, context):
    if event.get("warm"):
        return "warm"
    line = "flood " + "x" * 1018 + "\n"  # 1 KiB a line
    for _ in range(event["mib"] * 1024):
        sys.stdout.write(line)
    sys.stdout.flush()
    return "flooded"
'''


def test_a_log_flood_is_truncated_and_the_platform_keeps_up(
    client: Any, fns: Functions, settings: Any, sandbox: str, neighbour: Neighbour,
) -> None:
    name = f"flood-{sandbox}"
    fns.create(name, {"app.py": APP}, memory=512, timeout=60, isolation=sandbox)
    resp = neighbour.attack(lambda: invoke(client, name, {"mib": 64}), warm=lambda: invoke(client, name, {"warm": 1}))
    assert resp.status_code == 200 and resp.get_json() == "flooded", resp.get_data(as_text=True)
    streams = list((Path(settings.data_dir) / "logs" / settings.account_id / name).iterdir())
    stored = sum(p.stat().st_size for p in streams)
    assert stored < 4 << 20, stored  # 64 MiB printed, about 1 MiB (as records) kept
    records = [json.loads(line) for p in streams for line in p.read_text().splitlines() if line]
    assert any("bytes of log output were dropped" in r["msg"] and r.get("src") == "platform" for r in records)
    assert any(r["msg"].startswith("REPORT RequestId:") for r in records)
    assert invoke(client, name, {"warm": 1}).get_json() == "warm"  # the environment goes on
