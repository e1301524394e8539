"""PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers, ListLayerVersions,
DeleteLayerVersion."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.errors import InvalidParameterValueException
from lamina.services.functions import layers

bp = context.blueprint("layers")
VERSIONS = "/2018-10-31/layers/<layer_name>/versions"


@bp.get("/2018-10-31/layers", strict_slashes=False)
def list_layers() -> ResponseReturnValue:
    # GetLayerVersionByArn shares this path, told apart by ?find=LayerVersion.
    find = request.args.get("find")
    if find is not None:
        if find != "LayerVersion":
            raise InvalidParameterValueException(f"Unsupported find value: {find!r}")
        arn = request.args.get("Arn")
        if not arn:
            raise InvalidParameterValueException("Arn is required")
        rec = layers.get_layer_version_by_arn(context.deps(), context.account_id(), arn)
        return shapes.layer_version(rec, context.base_url())
    page = layers.list_layers(
        context.deps(), context.account_id(), compatible_runtime=request.args.get("CompatibleRuntime") or None,
        compatible_architecture=request.args.get("CompatibleArchitecture") or None,
        marker=request.args.get("Marker"), max_items=shapes.query_int(request.args, "MaxItems"),
    )
    return shapes.page("Layers", page, shapes.layers_list_item)


@bp.post(VERSIONS)
def publish_layer_version(layer_name: str) -> ResponseReturnValue:
    rec = layers.publish_layer_version(
        context.deps(), context.account_id(), layer_name, shapes.layer_version_input(context.body())
    )
    return shapes.layer_version(rec, context.base_url()), 201


@bp.get(VERSIONS)
def list_layer_versions(layer_name: str) -> ResponseReturnValue:
    page = layers.list_layer_versions(
        context.deps(), context.account_id(), layer_name,
        compatible_runtime=request.args.get("CompatibleRuntime") or None,
        compatible_architecture=request.args.get("CompatibleArchitecture") or None,
        marker=request.args.get("Marker"), max_items=shapes.query_int(request.args, "MaxItems"),
    )
    return shapes.page("LayerVersions", page, shapes.layer_versions_list_item)


@bp.get(VERSIONS + "/<version>")
def get_layer_version(layer_name: str, version: str) -> ResponseReturnValue:
    rec = layers.get_layer_version(context.deps(), context.account_id(), layer_name, version)
    return shapes.layer_version(rec, context.base_url())


@bp.delete(VERSIONS + "/<version>")
def delete_layer_version(layer_name: str, version: str) -> ResponseReturnValue:
    layers.delete_layer_version(context.deps(), context.account_id(), layer_name, version)
    return "", 204
