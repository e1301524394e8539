"""Attacks on the kernel from inside a function (issue 12, part of the attack suite): mount, ptrace of the
agent, raw sockets, writes to /proc/sys and to a cgroup's release_agent / notify_on_release, loading a
module, and filling /tmp past EphemeralStorage. Each is refused; the function and the platform go on."""

from __future__ import annotations

from typing import Any

from support.functions import Functions
from support.invoking import invoke
from support.neighbour import Neighbour

APP = r'''
import ctypes, errno, glob, os, socket

libc = ctypes.CDLL(None, use_errno=True)

def _errno(result):
    return "succeeded" if result == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

def _write(path, text="1"):
    try:
        with open(path, "w") as fh:
            fh.write(text)
        return "written"
    except OSError as err:
        return type(err).__name__

def handler(event, context):
    out = {}
    os.makedirs("/tmp/m", exist_ok=True)
    out["mount"] = _errno(libc.mount(b"none", b"/tmp/m", b"tmpfs", 0, None))
    out["ptrace_agent"] = _errno(libc.ptrace(16, 1, None, None))  # PTRACE_ATTACH to PID 1
    out["init_module"] = _errno(libc.syscall(175, None, 0, b""))  # init_module on x86_64
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
        out["raw_socket"] = "opened"
    except OSError as err:
        out["raw_socket"] = errno.errorcode.get(err.errno, str(err.errno))
    out["proc_sys"] = _write("/proc/sys/kernel/hostname", "pwned")
    agents = glob.glob("/sys/fs/cgroup/**/release_agent", recursive=True) or ["/sys/fs/cgroup/release_agent"]
    out["release_agent"] = {p: _write(p, "/tmp/x") for p in agents[:3]}
    notify = glob.glob("/sys/fs/cgroup/**/notify_on_release", recursive=True)[:3]
    out["notify_on_release"] = {p: _write(p) for p in notify}
    written, chunk = 0, b"x" * (1 << 20)
    try:
        with open("/tmp/fill", "wb") as fh:
            while written < (event["tmp_mb"] + 64) << 20:
                fh.write(chunk)
                fh.flush()
                written += len(chunk)
        out["tmp_fill"] = "no limit"
    except OSError as err:
        out["tmp_fill"] = errno.errorcode.get(err.errno, str(err.errno))
    os.remove("/tmp/fill")
    out["tmp_written_mb"] = written >> 20
    return out
'''


def test_the_kernel_surface_is_closed_from_inside_a_function(
    client: Any, fns: Functions, sandbox: str, neighbour: Neighbour,
) -> None:
    fns.create("kernel-poke", {"app.py": APP}, handler="app.handler", memory=1024, timeout=30, isolation=sandbox)
    resp = neighbour.attack(lambda: invoke(client, "kernel-poke", {"tmp_mb": 512}),
                            warm=lambda: invoke(client, "kernel-poke", {"tmp_mb": 0}), repeat=2)
    assert resp.status_code == 200 and "X-Amz-Function-Error" not in resp.headers, resp.get_data(as_text=True)
    out = resp.get_json()
    assert out["mount"] == "EPERM", out
    assert out["ptrace_agent"] in ("EPERM", "ESRCH"), out
    assert out["init_module"] == "EPERM", out
    # runc: EPERM (no CAP_NET_RAW); gVisor: no raw sockets at all (EPERM, or not supported).
    assert out["raw_socket"] in ("EPERM", "EAFNOSUPPORT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT"), out
    assert out["proc_sys"] != "written", out
    assert all(v != "written" for v in out["release_agent"].values()), out
    assert all(v != "written" for v in out["notify_on_release"].values()), out
    # /tmp is EphemeralStorage (512 MB): the write ends with ENOSPC at the limit, not on the host's disk.
    assert out["tmp_fill"] == "ENOSPC", out
    assert 400 <= out["tmp_written_mb"] <= 512, out
    # The platform goes on: the same function answers again.
    again = invoke(client, "kernel-poke", {"tmp_mb": 0})
    assert again.status_code == 200
