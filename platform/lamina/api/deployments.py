"""Gradual deployments of an alias (lamina's own API; ``lamina.services.functions.deployments``):

``POST /lamina/v1/functions/<name>/deployments`` starts one, ``GET .../deployments`` lists the history,
``GET .../deployments/<id>`` shows one, ``POST .../deployments/<id>/stop`` rolls it back.
"""

from __future__ import annotations

import time

from flask import jsonify
from flask.typing import ResponseReturnValue

from lamina.api import context
from lamina.services.functions import deployments

bp = context.blueprint("deployments")
BASE = "/lamina/v1/functions/<function_name>/deployments"


@bp.post(BASE)
def create_deployment(function_name: str) -> ResponseReturnValue:
    doc = deployments.start(context.deps(), context.account_id(), function_name, context.body(), time.time())
    return jsonify(doc), 201


@bp.get(BASE)
def list_deployments(function_name: str) -> ResponseReturnValue:
    return jsonify({"Deployments": deployments.list_deployments(context.deps(), context.account_id(), function_name)})


@bp.get(BASE + "/<deployment_id>")
def get_deployment(function_name: str, deployment_id: str) -> ResponseReturnValue:
    return jsonify(deployments.get(context.deps(), context.account_id(), function_name, deployment_id))


@bp.post(BASE + "/<deployment_id>/stop")
def stop_deployment(function_name: str, deployment_id: str) -> ResponseReturnValue:
    return jsonify(deployments.stop(context.deps(), context.account_id(), function_name, deployment_id, time.time()))
