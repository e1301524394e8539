"""PublishVersion and ListVersionsByFunction."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.services.functions import versions

bp = context.blueprint("versions")
VERSIONS = "/2015-03-31/functions/<function_name>/versions"


@bp.post(VERSIONS)
def publish_version(function_name: str) -> ResponseReturnValue:
    r = shapes.Reader(context.body())
    rec = versions.publish_version(
        context.deps(), context.account_id(), function_name, code_sha256=r.string("CodeSha256"),
        description=r.string("Description"), revision_id=r.string("RevisionId"),
    )
    return shapes.function_configuration(rec), 201


@bp.get(VERSIONS)
def list_versions_by_function(function_name: str) -> ResponseReturnValue:
    page = versions.list_versions(
        context.deps(), context.account_id(), function_name, marker=request.args.get("Marker"),
        max_items=shapes.query_int(request.args, "MaxItems"),
    )
    return shapes.page("Versions", page, shapes.function_configuration)
