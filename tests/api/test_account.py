"""GetAccountSettings and the OpenAPI document."""

from __future__ import annotations

import re

from lamina.api import openapi
from support.lambda_api import create, publish_layer


def test_account_settings_reports_limits_and_usage(client):
    empty = client.get("/2016-08-19/account-settings").get_json()
    assert empty["AccountLimit"] == {
        "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000,
    }
    assert empty["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}
    fn = create(client, "acct", Publish=True)
    layer = publish_layer(client, "acct-layer")
    usage = client.get("/2016-08-19/account-settings").get_json()["AccountUsage"]
    assert usage["FunctionCount"] == 1
    assert usage["TotalCodeSize"] == 2 * fn["CodeSize"] + layer["Content"]["CodeSize"]


def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", "{}", rule)


def test_openapi_lists_every_route(app, client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert ("POST", "/2015-03-31/functions/{FunctionName}/invocations") in ops
    assert len({op["operationId"] for item in doc["paths"].values() for op in item.values()}) == len(ops)
    documented = {(m, re.sub(r"{\w+}", "{}", p)) for m, p in ops}
    mine = {"functions", "versions", "aliases", "layers", "tags", "concurrency", "event_invoke", "account",
            "openapi"}
    served = {
        (method, _flask_path(rule.rule).rstrip("/") or "/")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in mine
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served <= documented, served - documented
    assert len(openapi.ROUTES) == len(ops)
