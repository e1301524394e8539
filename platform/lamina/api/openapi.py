"""GET /openapi.json: an OpenAPI 3 description of lamina's Lambda-compatible API, built from ``ROUTES``.

``ROUTES`` is the table of every operation lamina serves (a test checks it against the app's URL map),
with the success status, query parameters and whether the body is JSON or raw bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask.typing import ResponseReturnValue

from lamina import __version__

bp = Blueprint("openapi", __name__)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation: str
    status: int
    tag: str
    query: tuple[str, ...] = ()
    body: str | None = None  # "json", "bytes" or None


F = "/2015-03-31/functions/{FunctionName}"
EIC = "/2019-09-25/functions/{FunctionName}/event-invoke-config"
LV = "/2018-10-31/layers/{LayerName}/versions"
PAGE = ("Marker", "MaxItems")
ESM = "/2015-03-31/event-source-mappings"
URL = "/2021-10-31/functions/{FunctionName}/url"
SCHEDULES = "/lamina/v1/schedules"
QUEUES = "/lamina/v1/queues"
STREAMS = "/lamina/v1/streams"
DEPLOYMENTS = "/lamina/v1/functions/{FunctionName}/deployments"
VOLUMES = "/lamina/v1/volumes"

ROUTES: tuple[Route, ...] = (
    Route("POST", "/2015-03-31/functions", "CreateFunction", 201, "Functions", body="json"),
    Route("GET", "/2015-03-31/functions", "ListFunctions", 200, "Functions",
          ("MasterRegion", "FunctionVersion", *PAGE)),
    Route("GET", F, "GetFunction", 200, "Functions", ("Qualifier",)),
    Route("DELETE", F, "DeleteFunction", 204, "Functions", ("Qualifier",)),
    Route("GET", F + "/configuration", "GetFunctionConfiguration", 200, "Functions", ("Qualifier",)),
    Route("PUT", F + "/configuration", "UpdateFunctionConfiguration", 200, "Functions", body="json"),
    Route("PUT", F + "/code", "UpdateFunctionCode", 200, "Functions", body="json"),
    Route("POST", F + "/invocations", "Invoke", 200, "Invoke", ("Qualifier",), body="bytes"),
    Route("POST", "/2021-11-15/functions/{FunctionName}/response-streaming-invocations", "InvokeWithResponseStream",
          200, "Invoke", ("Qualifier",), body="bytes"),
    Route("POST", F + "/versions", "PublishVersion", 201, "Versions", body="json"),
    Route("GET", F + "/versions", "ListVersionsByFunction", 200, "Versions", PAGE),
    Route("POST", F + "/aliases", "CreateAlias", 201, "Aliases", body="json"),
    Route("GET", F + "/aliases", "ListAliases", 200, "Aliases", ("FunctionVersion", *PAGE)),
    Route("GET", F + "/aliases/{Name}", "GetAlias", 200, "Aliases"),
    Route("PUT", F + "/aliases/{Name}", "UpdateAlias", 200, "Aliases", body="json"),
    Route("DELETE", F + "/aliases/{Name}", "DeleteAlias", 204, "Aliases"),
    Route("GET", "/2018-10-31/layers", "ListLayers", 200, "Layers",
          ("CompatibleRuntime", "CompatibleArchitecture", *PAGE, "find", "Arn")),
    Route("POST", LV, "PublishLayerVersion", 201, "Layers", body="json"),
    Route("GET", LV, "ListLayerVersions", 200, "Layers", ("CompatibleRuntime", "CompatibleArchitecture", *PAGE)),
    Route("GET", LV + "/{VersionNumber}", "GetLayerVersion", 200, "Layers"),
    Route("DELETE", LV + "/{VersionNumber}", "DeleteLayerVersion", 204, "Layers"),
    Route("POST", "/2017-03-31/tags/{Resource}", "TagResource", 204, "Tags", body="json"),
    Route("DELETE", "/2017-03-31/tags/{Resource}", "UntagResource", 204, "Tags", ("tagKeys",)),
    Route("GET", "/2017-03-31/tags/{Resource}", "ListTags", 200, "Tags"),
    Route("PUT", "/2017-10-31/functions/{FunctionName}/concurrency", "PutFunctionConcurrency", 200,
          "Concurrency", body="json"),
    Route("GET", "/2019-09-30/functions/{FunctionName}/concurrency", "GetFunctionConcurrency", 200, "Concurrency"),
    Route("PUT", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "PutProvisionedConcurrencyConfig",
          202, "Concurrency", ("Qualifier",), "json"),
    Route("GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
          "GetProvisionedConcurrencyConfig", 200, "Concurrency", ("Qualifier", "List", *PAGE)),
    Route("DELETE", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
          "DeleteProvisionedConcurrencyConfig", 204, "Concurrency", ("Qualifier",)),
    Route("DELETE", "/2017-10-31/functions/{FunctionName}/concurrency", "DeleteFunctionConcurrency", 204,
          "Concurrency"),
    Route("PUT", EIC, "PutFunctionEventInvokeConfig", 200, "Asynchronous invocation", ("Qualifier",), "json"),
    Route("POST", EIC, "UpdateFunctionEventInvokeConfig", 200, "Asynchronous invocation", ("Qualifier",), "json"),
    Route("GET", EIC, "GetFunctionEventInvokeConfig", 200, "Asynchronous invocation", ("Qualifier",)),
    Route("DELETE", EIC, "DeleteFunctionEventInvokeConfig", 204, "Asynchronous invocation", ("Qualifier",)),
    Route("GET", EIC + "/list", "ListFunctionEventInvokeConfigs", 200, "Asynchronous invocation", PAGE),
    Route("GET", "/lamina/v1/functions", "SearchFunctions", 200, "Functions", ("Search", "Page", "PageSize")),
    Route("GET", "/lamina/v1/functions/{FunctionName}/isolation", "GetFunctionIsolation", 200, "Functions"),
    Route("PUT", "/lamina/v1/functions/{FunctionName}/isolation", "PutFunctionIsolation", 200, "Functions",
          body="json"),
    Route("GET", "/2021-07-20/functions/{FunctionName}/runtime-management-config", "GetRuntimeManagementConfig",
          200, "Functions", ("Qualifier",)),
    Route("PUT", "/2021-07-20/functions/{FunctionName}/runtime-management-config", "PutRuntimeManagementConfig",
          200, "Functions", ("Qualifier",), body="json"),
    Route("GET", "/2024-08-31/functions/{FunctionName}/recursion-config", "GetFunctionRecursionConfig", 200,
          "Functions"),
    Route("PUT", "/2024-08-31/functions/{FunctionName}/recursion-config", "PutFunctionRecursionConfig", 200,
          "Functions", body="json"),
    Route("GET", "/2016-08-19/account-settings", "GetAccountSettings", 200, "Account"),
    Route("GET", "/lamina/code/{CodeSha256Hex}", "DownloadCode", 200, "Code"),
    Route("GET", "/openapi.json", "GetOpenApi", 200, "Meta"),
    # Asynchronous invocation and triggers (docs/async.md).
    Route("POST", "/2014-11-13/functions/{FunctionName}/invoke-async", "InvokeAsync", 202,
          "Asynchronous invocation", body="bytes"),
    Route("POST", ESM, "CreateEventSourceMapping", 202, "Event source mappings", body="json"),
    Route("GET", ESM, "ListEventSourceMappings", 200, "Event source mappings",
          ("EventSourceArn", "FunctionName", *PAGE)),
    Route("GET", ESM + "/{UUID}", "GetEventSourceMapping", 200, "Event source mappings"),
    Route("PUT", ESM + "/{UUID}", "UpdateEventSourceMapping", 202, "Event source mappings", body="json"),
    Route("DELETE", ESM + "/{UUID}", "DeleteEventSourceMapping", 202, "Event source mappings"),
    Route("POST", URL, "CreateFunctionUrlConfig", 201, "Function URLs", ("Qualifier",), body="json"),
    Route("GET", URL, "GetFunctionUrlConfig", 200, "Function URLs", ("Qualifier",)),
    Route("PUT", URL, "UpdateFunctionUrlConfig", 200, "Function URLs", ("Qualifier",), body="json"),
    Route("DELETE", URL, "DeleteFunctionUrlConfig", 204, "Function URLs", ("Qualifier",)),
    Route("GET", URL + "s", "ListFunctionUrlConfigs", 200, "Function URLs", PAGE),
    Route("POST", SCHEDULES, "CreateSchedule", 201, "Schedules (lamina)", body="json"),
    Route("GET", SCHEDULES, "ListSchedules", 200, "Schedules (lamina)", ("FunctionName",)),
    Route("GET", SCHEDULES + "/{Name}", "GetSchedule", 200, "Schedules (lamina)"),
    Route("PUT", SCHEDULES + "/{Name}", "UpdateSchedule", 200, "Schedules (lamina)", body="json"),
    Route("DELETE", SCHEDULES + "/{Name}", "DeleteSchedule", 204, "Schedules (lamina)"),
    Route("POST", QUEUES, "CreateQueue", 201, "Queues (lamina)", body="json"),
    Route("GET", QUEUES, "ListQueues", 200, "Queues (lamina)"),
    Route("GET", QUEUES + "/{QueueName}", "GetQueue", 200, "Queues (lamina)"),
    Route("DELETE", QUEUES + "/{QueueName}", "DeleteQueue", 204, "Queues (lamina)"),
    Route("POST", QUEUES + "/{QueueName}/purge", "PurgeQueue", 204, "Queues (lamina)"),
    Route("POST", QUEUES + "/{QueueName}/messages", "SendMessages", 200, "Queues (lamina)", body="json"),
    Route("POST", QUEUES + "/{QueueName}/receive", "ReceiveMessages", 200, "Queues (lamina)", body="json"),
    Route("POST", QUEUES + "/{QueueName}/delete-message", "DeleteMessage", 204, "Queues (lamina)", body="json"),
    Route("POST", STREAMS, "CreateStream", 201, "Streams (lamina)", body="json"),
    Route("GET", STREAMS, "ListStreams", 200, "Streams (lamina)"),
    Route("GET", STREAMS + "/{StreamName}", "GetStream", 200, "Streams (lamina)"),
    Route("DELETE", STREAMS + "/{StreamName}", "DeleteStream", 204, "Streams (lamina)"),
    Route("GET", VOLUMES, "ListVolumes", 200, "Volumes (lamina)"),
    Route("DELETE", VOLUMES + "/{VolumeName}", "DeleteVolume", 204, "Volumes (lamina)"),
    Route("POST", DEPLOYMENTS, "CreateDeployment", 201, "Gradual deployments (lamina)", body="json"),
    Route("GET", DEPLOYMENTS, "ListDeployments", 200, "Gradual deployments (lamina)"),
    Route("GET", DEPLOYMENTS + "/{DeploymentId}", "GetDeployment", 200, "Gradual deployments (lamina)"),
    Route("POST", DEPLOYMENTS + "/{DeploymentId}/stop", "StopDeployment", 200, "Gradual deployments (lamina)"),
    Route("GET", "/lamina/v1/usage", "GetUsage", 200, "Usage and chargeback (lamina)",
          ("Start", "End", "FunctionName", "Granularity", "AccountId", "Format")),
    Route("GET", "/lamina/v1/accounts", "ListAccounts", 200, "Accounts (lamina, platform administrators)"),
    Route("POST", "/lamina/v1/accounts", "CreateAccount", 201, "Accounts (lamina, platform administrators)",
          body="json"),
    Route("POST", "/", "AwsJsonProtocols", 200, "SQS, Kinesis and CloudWatch Logs (AWS JSON protocols, "
          "X-Amz-Target); SQS and IAM query protocols (Action=...)", body="json"),
    Route("POST", "/{AccountId}/{QueueName}", "SqsQueryAtQueueUrl", 200, "SQS query protocol (Action=...)"),
    Route("GET", "/{AccountId}/{QueueName}", "SqsQueryAtQueueUrlGet", 200, "SQS query protocol (Action=...)"),
)

_ERROR = {
    "type": "object",
    "properties": {"Type": {"type": "string"}, "Message": {"type": "string"}, "message": {"type": "string"}},
}


def _operation(route: Route) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    params += [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in route.query]
    op: dict[str, Any] = {
        "operationId": route.operation,
        "tags": [route.tag],
        "parameters": params,
        "responses": {
            str(route.status): {"description": "Success"} if route.status == 204 else {
                "description": "Success",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "default": {
                "description": "Lambda error; the error name is in the X-Amzn-ErrorType header",
                "headers": {"X-Amzn-ErrorType": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if route.body == "json":
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": {"type": "object"}}}}
    elif route.body == "bytes":
        op["requestBody"] = {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                 "format": "binary"}}}}
    return op


def document() -> dict[str, Any]:
    """The OpenAPI 3 document for ``ROUTES``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "lamina: AWS Lambda API (2015-03-31) compatible",
            "version": __version__,
            "description": "Paths, shapes and errors follow the AWS Lambda API; path labels are percent-encoded.",
        },
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR}},
    }


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return document()
