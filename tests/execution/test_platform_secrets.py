"""The platform's own secrets never reach a function (issue 12): its master key, and the URLs (and so any
credentials) of PostgreSQL and Redis are in no environment variable, file or process list a function can
read. The function gathers everything it can see and the test greps it for them."""

from __future__ import annotations

from typing import Any

from lamina.services.iam import secrets
from support.functions import Functions
from support.invoking import invoke
from support.neighbour import Neighbour

APP = r'''
import os

LIMIT = 256 * 1024
SDK = {"boto3", "botocore", "s3transfer", "dateutil", "jmespath", "urllib3", "six"}

def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(LIMIT).decode("utf-8", "replace")
    except OSError:
        return ""

def handler(event, context):
    if event.get("warm"):
        return {"size": 0, "text": ""}
    seen = ["\n".join(f"{k}={v}" for k, v in os.environ.items())]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            seen.append(_read(f"/proc/{pid}/cmdline").replace("\0", " "))
            seen.append(_read(f"/proc/{pid}/environ").replace("\0", "\n"))
    for top in ("/var/lamina", "/var/runtime", "/var/task", "/opt", "/tmp", "/etc", "/var/run", "/run"):
        for root, dirs, files in os.walk(top):
            # The AWS SDK the runtime ships (PyPI's files, megabytes of botocore models) holds nothing of ours.
            dirs[:] = [d for d in dirs if root != "/var/runtime" or d == "__pycache__" or "." not in d
                       and d not in SDK]
            for name in files:
                seen.append(_read(os.path.join(root, name)))
    return {"size": sum(map(len, seen)), "text": "\n".join(seen)[:5_000_000]}
'''


def test_no_platform_secret_is_visible_from_inside_a_function(client: Any, fns: Functions, settings: Any,
                                                              sandbox: str, neighbour: Neighbour) -> None:
    fns.create("snoop", {"app.py": APP}, handler="app.handler", memory=256, timeout=20, isolation=sandbox)
    resp = neighbour.attack(lambda: invoke(client, "snoop", {}), warm=lambda: invoke(client, "snoop", {"warm": 1}),
                            repeat=40)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    seen = resp.get_json()
    assert seen["size"] > 1000  # it did read its environment, processes and files
    text = seen["text"]
    master_keys = secrets.master_keys(settings)
    assert master_keys and all(key not in text for key in master_keys)
    for url in (settings.database_url, settings.redis_url):
        assert url and url not in text
        assert url.rsplit("@", 1)[-1] not in text  # not even host, port and database
