"""lamina's fleet API: ``GET /lamina/v1/fleet/nodes`` and ``PUT /lamina/v1/fleet/nodes/<id>/drain``."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from lamina.api import auth, context
from lamina.errors import InvalidParameterValueException
from lamina.services.fleet import nodes

bp = Blueprint("fleet", __name__)


@bp.get("/lamina/v1/fleet/nodes")
def list_nodes() -> ResponseReturnValue:
    return jsonify({"Nodes": nodes.list_nodes(context.deps(), auth.current_principal())})


@bp.put("/lamina/v1/fleet/nodes/<node_id>/drain")
def drain(node_id: str) -> ResponseReturnValue:
    body = context.body()
    if set(body) - {"Draining"} or not isinstance(body.get("Draining", True), bool):
        raise InvalidParameterValueException('The body must be {"Draining": true | false}')
    return jsonify(nodes.drain(context.deps(), auth.current_principal(), node_id, body.get("Draining", True)))
