"""The node service: what API processes ask of this host (docs/fleet.md). Thin handlers over Environments.

Every request carries the fleet's node token (derived from the master key); bodies are JSON and errors
are ``{"error": kind, "message", "type", "status"}`` that ``lamina.executor.node_client`` reads.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import Flask, Response, jsonify, request

from lamina.errors import LambdaError
from lamina.executor.docker_env import ExecutorError, SandboxLost, spec_from_wire
from lamina.executor.node_client import TOKEN_HEADER
from lamina.scheduler import cells
from lamina.scheduler.environments import Environments
from lamina.scheduler.placement import Decision
from lamina.scheduler.pool import Lease

log = logging.getLogger(__name__)


def _error(kind: str, message: str, http_status: int = 400, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": kind, "message": message, **extra}), http_status


def create_node_app(envs: Environments, token: str) -> Flask:
    app = Flask("lamina.node")

    @app.before_request
    def authenticate() -> tuple[Response, int] | None:
        if request.path == "/v1/health":
            return None
        if not hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
            return _error("denied", "missing or wrong node token", 403)
        return None

    def body() -> Mapping[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    @app.get("/v1/health")
    def health() -> Response:
        return jsonify({"node": envs.pool.node})

    @app.post("/v1/environments")
    def start() -> Response | tuple[Response, int]:
        try:
            data = body()
            lease_data = data["lease"]
            lease = Lease(Decision.COLD, str(lease_data["env_id"]), dict(lease_data["spec"]))
            cspec = spec_from_wire(data["container"])
            code_key = data.get("code_key")
            layer_keys = [str(k) for k in data.get("layer_keys") or ()]
        except (ValueError, KeyError, TypeError) as err:
            return _error("failed", f"bad start request: {err}")
        try:
            # The host side is this node's own: its extracted code, its agent files, its socket directory.
            cspec = replace(
                cspec,
                task_dir=envs.task_dir(str(code_key)) if code_key else None,
                opt_dir=envs.opt_dir(layer_keys),
                agent_dir=envs.agent_dir(),
                socket_dir=envs.socket_dir(lease.env_id) if cspec.no_network else None,
            )
            address, container_id = envs.start(lease, cspec)
        except (SandboxLost, cells.CellLost) as err:
            return _error("unusable", str(err), 409)
        except LambdaError as err:
            return _error("lambda", err.message, err.status, type=err.error_type, status=err.status)
        except Exception as err:  # noqa: BLE001 - the API forgets the environment and says so
            log.exception("cannot start environment %s", lease.env_id)
            return _error("failed", str(err), 500)
        return jsonify({"address": address, "container_id": container_id})

    @app.post("/v1/thaw")
    def thaw() -> Response | tuple[Response, int]:
        try:
            envs.docker.unpause(str(body()["container_id"]))
        except (ValueError, KeyError) as err:
            return _error("failed", f"bad thaw request: {err}")
        except ExecutorError as err:
            return _error("failed", str(err), 500)
        return jsonify({})

    @app.post("/v1/remove")
    def remove() -> Response | tuple[Response, int]:
        try:
            ids = [str(c) for c in body()["container_ids"]]
        except (ValueError, KeyError, TypeError) as err:
            return _error("failed", f"bad remove request: {err}")
        mine = {c.container_id for c in envs.docker.list_managed(envs.settings.instance)}
        for cid in ids:
            if cid in mine:
                envs.pool.end_boost(cid)
        envs.later(envs.remove_here, [c for c in ids if c in mine])
        return jsonify({})

    @app.post("/v1/end-boost")
    def end_boost() -> Response | tuple[Response, int]:
        try:
            cid = str(body()["container_id"])
        except (ValueError, KeyError) as err:
            return _error("failed", f"bad request: {err}")
        if envs.boosted(cid):
            envs.later(envs.end_boost, cid)
        return jsonify({})

    return app
