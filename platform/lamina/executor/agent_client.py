"""A lean HTTP/1.1 client for the agents' invoke front door, kept alive per thread and environment.

The warm path's one HTTP request: the agent always answers with Content-Length, so this client sends
prebuilt bytes and parses just the status line, the headers and a sized body. ``http.client`` parses
headers through the ``email`` package, which costs more CPU than the whole rest of a warm invoke's
client side (see bench/invoke.py).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from lamina.executor.docker_env import UNIX_ADDRESS

MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024  # the agent caps responses at 6 MB (plus error envelopes)


class ProtocolError(OSError):
    """The agent's answer was not HTTP/1.1 as expected (or the connection closed mid-answer)."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class AgentConnection:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self.timeout = timeout
        self.reused = False  # True once it carried a request: a failure may mean the peer closed it

    def connect(self) -> None:
        if self.host.startswith(UNIX_ADDRESS):  # an environment without a network: its agent's socket
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.host[len(UNIX_ADDRESS):])
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def send(self, path: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.settimeout(timeout)
        host = "localhost" if self.host.startswith(UNIX_ADDRESS) else self.host
        head = [f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"]
        head.extend(f"{k}: {v}\r\n" for k, v in headers.items())
        head.append("\r\n")
        self.sock.sendall("".join(head).encode("latin-1") + body)

    def receive(self) -> tuple[Reply, bool]:
        """Read one answer; return it and whether the connection may be reused."""
        assert self.sock is not None
        buf = b""
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buf) > MAX_HEAD:
                raise ProtocolError("response head too large")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError("connection closed before a response" if not buf else "truncated response")
            buf += chunk
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(f"bad status line {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        body = buf[end + 4 :]
        length = headers.get("content-length")
        keep = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
        if length is None:
            # No length: the body runs to the end of the connection.
            while chunk := self.sock.recv(65536):
                body += chunk
                if len(body) > MAX_BODY:
                    raise ProtocolError("response body too large")
            keep = False
        else:
            want = int(length)
            if want > MAX_BODY:
                raise ProtocolError("response body too large")
            while len(body) < want:
                chunk = self.sock.recv(min(65536 * 4, want - len(body)))
                if not chunk:
                    raise ProtocolError("truncated response body")
                body += chunk
        return Reply(int(parts[1]), headers, body), keep


class Connections(threading.local):
    """Each thread keeps one connection per environment, most recently used last (LRU bounded)."""

    def __init__(self, limit: int = 128) -> None:
        self.by_env: OrderedDict[str, AgentConnection] = OrderedDict()
        self.limit = limit

    def take(self, env_id: str) -> AgentConnection | None:
        return self.by_env.pop(env_id, None)

    def give(self, env_id: str, conn: AgentConnection) -> None:
        conn.reused = True
        self.by_env[env_id] = conn
        while len(self.by_env) > self.limit:
            _, old = self.by_env.popitem(last=False)
            old.close()


def claim_cell(host: str, port: int, cell_id: str, environment: Mapping[str, str], timeout: float) -> None:
    """Hand stem cell ``cell_id``'s agent the function's environment (POST /claim); raise OSError if it
    refuses (it is not that cell, or not free)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", "/claim", body=json.dumps({"cell": cell_id, "env": dict(environment)}).encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as err:
        raise OSError(f"cell at {host} did not take the claim: {err}") from err
    finally:
        conn.close()
    if resp.status != 200:
        raise OSError(f"cell at {host} refused the claim: HTTP {resp.status} {body[:200]!r}")
