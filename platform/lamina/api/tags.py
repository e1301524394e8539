"""TagResource, UntagResource, ListTags (the resource is a function ARN, percent-encoded in the path)."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.errors import InvalidParameterValueException
from lamina.services.functions import tags

bp = context.blueprint("tags")
TAGS = "/2017-03-31/tags/<resource>"


@bp.post(TAGS)
def tag_resource(resource: str) -> ResponseReturnValue:
    values = shapes.Reader(context.body()).string_map("Tags", required=True) or {}
    tags.tag_resource(context.deps(), context.account_id(), resource, values)
    return "", 204


@bp.delete(TAGS)
def untag_resource(resource: str) -> ResponseReturnValue:
    keys = request.args.getlist("tagKeys")
    if not keys:
        raise InvalidParameterValueException("tagKeys is required")
    tags.untag_resource(context.deps(), context.account_id(), resource, keys)
    return "", 204


@bp.get(TAGS)
def list_tags(resource: str) -> ResponseReturnValue:
    return {"Tags": tags.list_tags(context.deps(), context.account_id(), resource)}
