"""What a function has logged cannot be rewritten by the function (issue 12).

Exactly the attack that once worked: code in a second environment of the function looks for the function's
earlier log streams and overwrites them, START/END/REPORT lines included, with one forged line. Now no
container mounts the log store (the agent hands its lines to the platform with each answer), the agent is
non-dumpable, so its descriptors cannot be opened from the runtime, and a printed REPORT line is stored as
the function's own output, not as the platform's.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from support.functions import Functions
from support.invoking import invoke
from support.neighbour import Neighbour

APP = r'''
import json, os, time

FORGED = ("REPORT RequestId: forged\tDuration: 0.01 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\t"
          "Max Memory Used: 1 MB")

def _try_overwrite(path):
    try:
        with open(path, "w") as fh:
            fh.write(json.dumps({"ts": 0, "msg": FORGED}) + "\n")
        return True
    except OSError:
        return False

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
        return "slept"
    if not event.get("attack"):
        print("honest line", event.get("n"))
        return event.get("n")
    found = {"listed": [], "overwritten": [], "agent_fds": [], "agent_environ": False}
    for directory in ("/var/log/lamina", "/var/log", "/tmp", "/var/task", "/opt"):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if "[$LATEST]" in name or name.startswith("20"):
                found["listed"].append(f"{directory}/{name}")
                if _try_overwrite(f"{directory}/{name}"):
                    found["overwritten"].append(f"{directory}/{name}")
    try:  # the agent's descriptors: its sockets to the platform, anything it writes
        for fd in os.listdir("/proc/1/fd"):
            found["agent_fds"].append(fd)
            _try_overwrite(f"/proc/1/fd/{fd}")
    except OSError:
        pass
    try:
        open("/proc/1/environ").read()
        found["agent_environ"] = True
    except OSError:
        pass
    try:  # the agent's memory: where its START/END/REPORT lines are made
        with open("/proc/1/mem", "r+b") as fh:
            fh.write(b"x")
        found["agent_mem"] = True
    except OSError:
        found["agent_mem"] = False
    print(FORGED)  # printed: the function's own output, whatever it looks like
    return found
'''


def _streams(settings: Any, name: str) -> dict[str, list[dict[str, Any]]]:
    directory = Path(settings.data_dir) / "logs" / settings.account_id / name
    return {p.name: [json.loads(line) for line in p.read_text().splitlines() if line]
            for p in sorted(directory.iterdir())}


def test_a_second_environment_cannot_rewrite_the_functions_earlier_log_streams(
    client: Any, fns: Functions, settings: Any, sandbox: str, neighbour: Neighbour,
) -> None:
    name = f"diary-{sandbox}"  # log streams outlive their function (as on Lambda): one name per run
    fns.create(name, {"app.py": APP}, handler="app.handler", memory=128, timeout=10, isolation=sandbox)
    for n in range(3):
        assert invoke(client, name, {"n": n}).status_code == 200
    before = _streams(settings, name)
    [first_stream] = before
    assert [r["msg"] for r in before[first_stream] if r["msg"].startswith("honest")] == [
        "honest line 0", "honest line 1", "honest line 2"]

    # Keep the first environment busy, so the attack runs in a second one.
    holder = threading.Thread(target=lambda: invoke(client, name, {"sleep": 3}))
    holder.start()
    time.sleep(0.8)
    # The second environment's cold start is not the attack: it starts unwatched (``warm``).
    resp = neighbour.attack(lambda: invoke(client, name, {"attack": True}),
                            warm=lambda: invoke(client, name, {"n": 3}), repeat=2)
    holder.join()
    assert resp.status_code == 200, resp.get_data(as_text=True)
    found = resp.get_json()
    assert found["listed"] == [] and found["overwritten"] == [], found
    assert found["agent_mem"] is False, found
    if sandbox == "container":
        assert found["agent_fds"] == [] and found["agent_environ"] is False, found
    # gVisor (Debian 12's runsc) lets another user list the agent's descriptors and read its environment
    # (no secret there: test_platform_secrets), but not its memory; whatever it wrote through them, the
    # stored lines below are intact and no forged platform line exists.

    after = _streams(settings, name)
    assert len(after) == 2, list(after)  # the attack ran in an environment of its own
    # The earlier stream is intact: every line still there, in order (the holder's lines only appended).
    assert after[first_stream][: len(before[first_stream])] == before[first_stream]
    platform_reports = [r for s in after.values() for r in s
                        if r["msg"].startswith("REPORT RequestId:") and r.get("src") == "platform"]
    forged = [r for s in after.values() for r in s if "RequestId: forged" in r["msg"]]
    assert forged and all("src" not in f for f in forged)  # stored as what the function printed
    # Three honest invokes, the holder, the warm-up and each run of the attack: one platform REPORT each.
    assert len(platform_reports) == 5 + len(forged)
    assert all("forged" not in r["msg"] for r in platform_reports)
