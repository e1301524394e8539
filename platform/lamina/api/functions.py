"""Functions, versions' code download: CreateFunction, GetFunction(Configuration), ListFunctions,
UpdateFunctionCode/Configuration, DeleteFunction, and GET /lamina/code/<sha> serving stored zips."""

from __future__ import annotations

import re
from typing import Any

from flask import request, send_file
from flask.typing import ResponseReturnValue

from lamina.api import context, shapes
from lamina.api import event_sources as event_sources_api
from lamina.api import schedules as schedules_api
from lamina.api import urls as urls_api
from lamina.errors import InvalidParameterValueException, ResourceNotFoundException
from lamina.services.functions import functions, isolation, recursion, runtime_versions
from lamina.services.triggers.triggers import Triggers

bp = context.blueprint("functions")
FUNCTION = "/2015-03-31/functions/<function_name>"
_KEY_RE = re.compile(r"[0-9a-f]{64}")


@bp.post("/2015-03-31/functions", strict_slashes=False)
def create_function() -> ResponseReturnValue:
    rec = functions.create_function(context.deps(), context.account_id(), shapes.create_function_input(context.body()))
    return shapes.function_configuration(rec), 201


@bp.get("/2015-03-31/functions", strict_slashes=False)
def list_functions() -> ResponseReturnValue:
    version = request.args.get("FunctionVersion")
    if version not in (None, "", "ALL"):
        raise InvalidParameterValueException(f"FunctionVersion must be ALL, got {version!r}")
    page = functions.list_functions(
        context.deps(), context.account_id(), marker=request.args.get("Marker"),
        max_items=shapes.query_int(request.args, "MaxItems"), all_versions=version == "ALL",
    )
    return shapes.page("Functions", page, lambda r: shapes.function_configuration(r, listing=True))


@bp.get("/lamina/v1/functions")
def search_functions() -> ResponseReturnValue:
    """lamina's search over function names, a page at a time (the console's list)."""
    page, size = shapes.query_int(request.args, "Page"), shapes.query_int(request.args, "PageSize")
    found, total = functions.search_functions(context.deps(), context.account_id(), request.args.get("Search"),
                                              page, size)
    return {"Functions": [shapes.function_configuration(r, listing=True) for r in found], "Total": total,
            "Page": page or 1, "PageSize": size or 20}


@bp.get(FUNCTION)
def get_function(function_name: str) -> ResponseReturnValue:
    details = functions.get_function(context.deps(), context.account_id(), function_name, context.qualifier())
    out = shapes.get_function_response(details, context.base_url())
    # lamina's extension: schedules, event source mappings and URLs that invoke this function.
    from lamina.services.triggers import triggers

    out["Triggers"] = _triggers_shape(triggers.for_function(context.deps(), context.account_id(),
                                                                    details.config.name))
    return out


@bp.get(FUNCTION + "/configuration")
def get_function_configuration(function_name: str) -> ResponseReturnValue:
    rec = functions.get_configuration(context.deps(), context.account_id(), function_name, context.qualifier())
    return shapes.function_configuration(rec)


@bp.put(FUNCTION + "/code")
def update_function_code(function_name: str) -> ResponseReturnValue:
    kwargs = shapes.update_code_input(context.body())
    rec = functions.update_code(context.deps(), context.account_id(), function_name, **kwargs)
    return shapes.function_configuration(rec)


@bp.put(FUNCTION + "/configuration")
def update_function_configuration(function_name: str) -> ResponseReturnValue:
    body = context.body()
    shapes.check_members(body, shapes.UPDATE_MEMBERS)
    r = shapes.Reader(body)
    rec = functions.update_configuration(
        context.deps(), context.account_id(), function_name, shapes.config_input(r), r.string("RevisionId")
    )
    return shapes.function_configuration(rec)


@bp.get("/lamina/v1/functions/<function_name>/isolation")
def get_function_isolation(function_name: str) -> ResponseReturnValue:
    """lamina's extension: the sandbox the function runs in (``container`` or ``gvisor``)."""
    return _isolation_shape(isolation.get(context.deps(), context.account_id(), function_name))


@bp.put("/lamina/v1/functions/<function_name>/isolation")
def put_function_isolation(function_name: str) -> ResponseReturnValue:
    body = context.body()
    if set(body) - {"Isolation"} or "Isolation" not in body:
        raise InvalidParameterValueException('The body must be {"Isolation": "container" | "gvisor" | null}')
    return _isolation_shape(isolation.put(context.deps(), context.account_id(), function_name, body["Isolation"]))


@bp.get("/2021-07-20/functions/<function_name>/runtime-management-config")
def get_runtime_management_config(function_name: str) -> ResponseReturnValue:
    got = runtime_versions.get(context.deps(), context.account_id(), function_name, context.qualifier())
    return shapes.without_none({"UpdateRuntimeOn": got.update_runtime_on, "RuntimeVersionArn": got.runtime_version_arn,
                                "FunctionArn": got.function_arn})


@bp.put("/2021-07-20/functions/<function_name>/runtime-management-config")
def put_runtime_management_config(function_name: str) -> ResponseReturnValue:
    got = runtime_versions.put(context.deps(), context.account_id(), function_name, context.qualifier(),
                               context.body())
    return shapes.without_none({"UpdateRuntimeOn": got.update_runtime_on, "FunctionArn": got.function_arn,
                                "RuntimeVersionArn": got.runtime_version_arn})


@bp.get("/2024-08-31/functions/<function_name>/recursion-config")
def get_function_recursion_config(function_name: str) -> ResponseReturnValue:
    return {"RecursiveLoop": recursion.get(context.deps(), context.account_id(), function_name)}


@bp.put("/2024-08-31/functions/<function_name>/recursion-config")
def put_function_recursion_config(function_name: str) -> ResponseReturnValue:
    return {"RecursiveLoop": recursion.put(context.deps(), context.account_id(), function_name, context.body())}


def _isolation_shape(found: isolation.FunctionIsolation) -> dict[str, Any]:
    return {"Isolation": found.requested, "EffectiveIsolation": found.effective,
            "AccountDefault": found.account.default, "Allowed": list(found.account.allowed)}


@bp.delete(FUNCTION)
def delete_function(function_name: str) -> ResponseReturnValue:
    functions.delete_function(context.deps(), context.account_id(), function_name, context.qualifier())
    return "", 204


@bp.get("/lamina/code/<key>")
def download_code(key: str) -> ResponseReturnValue:
    store = context.deps().code_store
    if not _KEY_RE.fullmatch(key) or not store.exists(key):
        raise ResourceNotFoundException(f"Code not found: {key}")
    return send_file(store.path(key), mimetype="application/zip", as_attachment=True, download_name=f"{key}.zip")


def _triggers_shape(t: Triggers) -> dict[str, Any]:
    """GetFunction's lamina extension: the function's triggers (boto3 ignores members it does not model)."""
    return {
        "Schedules": [schedules_api.schedule_shape(s) for s in t.schedules],
        "EventSourceMappings": [event_sources_api.mapping_shape(m) for m in t.event_source_mappings],
        "FunctionUrlConfigs": [urls_api.url_config(u) for u in t.urls],
    }
