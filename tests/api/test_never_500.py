"""Whatever JSON a caller sends in any member, the answer is a Lambda error or success, never a 500."""

from __future__ import annotations

import copy

import pytest
from support.lambda_api import create, create_body

ODD_VALUES = [None, 0, -1, 2**63, 1.5, True, "", "x" * 300, "\u0000", [], ["x"], [1], {}, {"a": 1}, {"a": "b"}]
CREATE_PATHS = [
    ("FunctionName",), ("Role",), ("Runtime",), ("Handler",), ("Description",), ("Timeout",), ("MemorySize",),
    ("Publish",), ("PackageType",), ("Environment",), ("Environment", "Variables"), ("Layers",), ("Tags",),
    ("Architectures",), ("EphemeralStorage",), ("EphemeralStorage", "Size"), ("ImageConfig",), ("Code",),
    ("Code", "ZipFile"), ("Code", "ImageUri"), ("Code", "S3Bucket"), ("TracingConfig",), ("VpcConfig",),
]


def _set(body: dict, path: tuple[str, ...], value: object) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize("path", CREATE_PATHS, ids=".".join)
def test_create_function_members(client, path):
    for i, value in enumerate(ODD_VALUES):
        body = _set(create_body(f"odd-{i}"), path, value)
        resp = client.post("/2015-03-31/functions", json=body)
        assert resp.status_code in (201, 400, 404, 409), (path, value, resp.get_data(as_text=True))
        if resp.status_code != 201:
            assert resp.headers["X-Amzn-ErrorType"]


UPDATES = [
    ("PUT", "/2015-03-31/functions/odd/configuration",
     ["Timeout", "MemorySize", "Environment", "Layers", "RevisionId", "Handler", "ImageConfig", "EphemeralStorage"]),
    ("PUT", "/2015-03-31/functions/odd/code", ["ZipFile", "ImageUri", "Publish", "DryRun", "Architectures"]),
    ("POST", "/2015-03-31/functions/odd/versions", ["CodeSha256", "Description", "RevisionId"]),
    ("POST", "/2015-03-31/functions/odd/aliases", ["Name", "FunctionVersion", "RoutingConfig", "Description"]),
    ("PUT", "/2017-10-31/functions/odd/concurrency", ["ReservedConcurrentExecutions"]),
    ("PUT", "/2019-09-25/functions/odd/event-invoke-config",
     ["MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"]),
    ("POST", "/2018-10-31/layers/odd/versions", ["Content", "CompatibleRuntimes", "LicenseInfo"]),
    ("POST", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aodd", ["Tags"]),
]


@pytest.mark.parametrize("method, url, members", UPDATES, ids=[u[1] for u in UPDATES])
def test_other_operations(client, method, url, members):
    create(client, "odd")
    for member in members:
        for value in ODD_VALUES:
            resp = client.open(url, method=method, json={member: value})
            assert resp.status_code < 500, (member, value, resp.get_data(as_text=True))


@pytest.mark.parametrize("url", [
    "/2015-03-31/functions/odd/aliases/%00",
    "/2015-03-31/functions?Marker=%00",
    "/2015-03-31/functions/odd/aliases?Marker=a%00b",
    "/2018-10-31/layers?Marker=%00",
    "/2019-09-25/functions/odd/event-invoke-config/list?Marker=%00",
])
def test_nul_in_path_or_query_is_refused(client, url):
    create(client, "odd")
    resp = client.get(url)
    assert resp.status_code == 400 and resp.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"


@pytest.mark.parametrize("method, url", [
    ("GET", "/2018-10-31/layers/odd/versions/99999999999999999999"),
    ("DELETE", "/2018-10-31/layers/odd/versions/99999999999999999999"),
    ("GET", "/2015-03-31/functions/odd?Qualifier=99999999999999999999"),
    ("DELETE", "/2015-03-31/functions/odd?Qualifier=99999999999999999999"),
    ("GET", "/2015-03-31/functions/odd/versions?Marker=99999999999999999999"),
    ("GET", "/2018-10-31/layers/odd/versions?Marker=99999999999999999999"),
    ("GET", "/2015-03-31/functions?MaxItems=99999999999999999999"),
])
def test_huge_numbers_in_path_or_query(client, method, url):
    create(client, "odd")
    resp = client.open(url, method=method)
    assert resp.status_code in (200, 204, 400, 404), resp.get_data(as_text=True)
