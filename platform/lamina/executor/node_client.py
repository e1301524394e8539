"""The HTTP client of a fleet node's service (lamina.node.service): what an API process asks another host.

A cold start (the ContainerSpec, the code keys), a thaw, container removal and the end of an init boost.
Everything else an invoke needs, the environment's agent, is reached directly at its address (routed to
the node: docs/fleet.md). One kept-alive session per thread and node.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import requests

TOKEN_HEADER = "X-Lamina-Node-Token"
START_TIMEOUT_S = 60.0  # an image start on a loaded engine; the agent's init is waited for by the invoke
CONTROL_TIMEOUT_S = 10.0


class NodeUnavailable(Exception):
    """The node could not be asked (connection refused or reset, timed out, or it answered garbage)."""


class NodeRefused(Exception):
    """The node answered with an error document: ``kind`` "unusable" (start elsewhere), "lambda" (a
    LambdaError with ``error_type`` and ``status``) or "failed"."""

    def __init__(self, kind: str, message: str, error_type: str = "", status: int = 500) -> None:
        super().__init__(message)
        self.kind, self.message, self.error_type, self.status = kind, message, error_type, status


def node_token(secret: str) -> str:
    """The shared token nodes accept, derived from the fleet's master key (never the key itself)."""
    return hmac.new(secret.encode(), b"lamina-node-service", hashlib.sha256).hexdigest()


class NodeClient:
    def __init__(self, token: str) -> None:
        self._token = token
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers[TOKEN_HEADER] = self._token
            self._local.session = session
        return session

    def _post(self, url: str, path: str, body: Mapping[str, Any], timeout: float) -> dict[str, Any]:
        try:
            resp = self._session().post(url + path, json=body, timeout=timeout)
        except requests.RequestException as err:
            raise NodeUnavailable(f"node {url} unavailable: {err}") from None
        try:
            data = resp.json()
        except ValueError:
            raise NodeUnavailable(f"node {url} answered HTTP {resp.status_code} without JSON") from None
        if resp.status_code != 200:
            raise NodeRefused(str(data.get("error") or "failed"), str(data.get("message") or ""),
                              str(data.get("type") or ""), int(data.get("status") or 500))
        return dict(data)

    def start(self, url: str, lease: Mapping[str, Any], container: Mapping[str, Any], code_key: str | None,
              layer_keys: Sequence[str]) -> tuple[str, str]:
        """Start (or claim a stem cell for) an environment on the node; return (address, container id)."""
        data = self._post(url, "/v1/environments", {
            "lease": dict(lease), "container": dict(container), "code_key": code_key,
            "layer_keys": list(layer_keys),
        }, START_TIMEOUT_S)
        return str(data["address"]), str(data["container_id"])

    def thaw(self, url: str, container_id: str) -> None:
        self._post(url, "/v1/thaw", {"container_id": container_id}, CONTROL_TIMEOUT_S)

    def remove(self, url: str, container_ids: Sequence[str]) -> None:
        self._post(url, "/v1/remove", {"container_ids": list(container_ids)}, CONTROL_TIMEOUT_S)

    def end_boost(self, url: str, container_id: str) -> None:
        self._post(url, "/v1/end-boost", {"container_id": container_id}, CONTROL_TIMEOUT_S)
