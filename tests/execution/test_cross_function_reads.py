"""A function cannot read another function's code, layers, environment variables or logs (issue 12, part
of the attack suite): a probe walks every file it can open and every process it can see for markers that
only a neighbour's code, layer, variables and log lines carry."""

from __future__ import annotations

import uuid
from typing import Any

from support.functions import Functions
from support.invoking import invoke
from support.neighbour import Neighbour

PROBE = r'''
import os

def handler(event, context):
    markers = [m.encode() for m in event["markers"]]
    found, files = [], 0
    for top in ("/",):
        for root, dirs, names in os.walk(top):
            dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
            for name in names:
                path = os.path.join(root, name)
                try:
                    if os.path.islink(path) or os.path.getsize(path) > (4 << 20):
                        continue
                    with open(path, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                files += 1
                found += [f"{path}: {m.decode()}" for m in markers if m in data]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for part in ("environ", "cmdline"):
            try:
                data = open(f"/proc/{pid}/{part}", "rb").read()
            except OSError:
                continue
            found += [f"/proc/{pid}/{part}: {m.decode()}" for m in markers if m in data]
    return {"found": found, "files": files}
'''


def test_a_function_cannot_read_another_functions_code_layers_variables_or_logs(
    client: Any, fns: Functions, sandbox: str, neighbour: Neighbour,
) -> None:
    code, layer, variable, logged = (f"{what}-{uuid.uuid4().hex}" for what in ("code", "layer", "var", "log"))
    layer_arn = fns.publish_layer("secret-layer", {"python/secret_layer.py": f"LAYER = {layer!r}\n"})
    fns.create("neighbour", {"app.py": f"CODE = {code!r}\n"
                             f"def handler(e, c):\n    print({logged!r})\n    return 'hi'\n"},
               env={"SECRET": variable}, layers=[layer_arn])
    assert invoke(client, "neighbour", {}).get_json() == "hi"  # its code, layer and log lines now exist
    mine = f"mine-{uuid.uuid4().hex}"  # in the prober's own code: proves the walk finds what is readable
    fns.create("prober", {"app.py": PROBE + f"MINE = {mine!r}\n"}, memory=512,
               # gVisor's ptrace platform makes the probe's walk of the file system several times slower.
               timeout=60 if sandbox == "container" else 180, isolation=sandbox)
    resp = neighbour.attack(lambda: invoke(client, "prober", {"markers": [code, layer, variable, logged, mine]}),
                            warm=lambda: invoke(client, "prober", {"markers": []}))
    assert resp.status_code == 200 and "X-Amz-Function-Error" not in resp.headers, resp.get_data(as_text=True)
    out = resp.get_json()
    assert out["files"] > 100  # it did walk the file system
    assert out["found"] == [f"/var/task/app.py: {mine}"], out["found"]
