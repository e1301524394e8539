"""CreateFunction, GetFunction(Configuration), ListFunctions, UpdateFunctionCode/Configuration,
DeleteFunction and the code download route, through the Flask test client."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from urllib.parse import quote, urlsplit

import pytest
from lamina.scheduler import catalog
from support.lambda_api import (
    ROLE,
    assert_error,
    b64,
    create,
    create_body,
    fn_arn,
    make_zip,
    publish_layer,
)

TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
FUNCTIONS = "/2015-03-31/functions"


def key_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_create_function_reports_lambda_configuration(client, components):
    zipped = make_zip()
    resp = client.post(FUNCTIONS, json=create_body("hello", zipped, Description="d", MemorySize=256,
                                                   Environment={"Variables": {"AA": "1"}}))
    assert resp.status_code == 201
    doc = resp.get_json()
    assert doc["FunctionName"] == "hello"
    assert doc["FunctionArn"] == fn_arn("hello")
    assert doc["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert doc["CodeSize"] == len(zipped)
    assert doc["Version"] == "$LATEST"
    assert doc["State"] == "Active" and doc["LastUpdateStatus"] == "Successful"
    assert TIME_RE.fullmatch(doc["LastModified"])
    assert doc["MemorySize"] == 256 and doc["Timeout"] == 3 and doc["Description"] == "d"
    assert doc["Environment"] == {"Variables": {"AA": "1"}}
    assert doc["PackageType"] == "Zip" and doc["Architectures"] == ["x86_64"]
    assert doc["EphemeralStorage"] == {"Size": 512}
    assert re.fullmatch(r"[0-9a-f-]{36}", doc["RevisionId"])
    assert components.code_store.exists(key_of(zipped))


def test_create_with_publish_returns_version_one(client):
    doc = create(client, "pub", Publish=True)
    assert doc["Version"] == "1"
    assert doc["FunctionArn"] == fn_arn("pub", "1")


def test_create_image_function_stores_the_image_reference(client):
    resp = client.post(FUNCTIONS, json={
        "FunctionName": "img", "Role": ROLE, "PackageType": "Image",
        "Code": {"ImageUri": "lamina-test/awslambdaric:latest"},
        "ImageConfig": {"Command": ["app.handler"]},
    })
    assert resp.status_code == 201, resp.get_data(as_text=True)
    doc = resp.get_json()
    assert doc["PackageType"] == "Image" and "Runtime" not in doc and "Handler" not in doc
    assert doc["ImageConfigResponse"] == {"ImageConfig": {"Command": ["app.handler"]}}
    got = client.get(f"{FUNCTIONS}/img").get_json()
    assert got["Code"] == {"RepositoryType": "ECR", "ImageUri": "lamina-test/awslambdaric:latest",
                           "ResolvedImageUri": "lamina-test/awslambdaric:latest"}


def test_create_accepts_an_arn_as_function_name(client):
    doc = create(client, fn_arn("by-arn"))
    assert doc["FunctionName"] == "by-arn"


def test_create_twice_is_a_conflict_and_stores_nothing_new(client, components):
    create(client, "dup")
    other = make_zip({"app.py": "# another\n"})
    resp = client.post(FUNCTIONS, json=create_body("dup", other))
    assert_error(resp, 409, "ResourceConflictException", "dup")
    assert not components.code_store.exists(key_of(other))


def _too_big_env() -> dict:
    return {"Variables": {f"V{i}": "x" * 100 for i in range(50)}}


@pytest.mark.parametrize(
    "changes, part",
    [
        ({"FunctionName": "x" * 65}, "functionName"),
        ({"FunctionName": "bad name!"}, None),
        ({"Runtime": "python2.7"}, "runtime"),
        ({"Runtime": None}, "Runtime and Handler"),
        ({"Handler": "has space"}, "handler"),
        ({"Handler": "h" * 129}, "handler"),
        ({"Role": "not-a-role"}, "role"),
        ({"Role": None}, "Role"),
        ({"MemorySize": 127}, "memorySize"),
        ({"MemorySize": 10241}, "memorySize"),
        ({"Timeout": 0}, "timeout"),
        ({"Timeout": 901}, "timeout"),
        ({"EphemeralStorage": {"Size": 511}}, "ephemeralStorage"),
        ({"EphemeralStorage": {"Size": 10241}}, "ephemeralStorage"),
        ({"Description": "d" * 257}, "description"),
        ({"Architectures": ["sparc"]}, "architectures"),
        ({"Architectures": ["x86_64", "arm64"]}, "architectures"),
        ({"Environment": {"Variables": {"1BAD": "x"}}}, "environment"),
        ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "reserved"),
        ({"Environment": {"Variables": {"LAMINA_X": "x"}}}, "reserved"),
        ({"Environment": _too_big_env()}, "4KB"),
        ({"Layers": [f"arn:aws:lambda:us-east-1:000000000000:layer:l{i}:1" for i in range(6)]}, "5 layers"),
        ({"Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:missing:1"]}, "does not exist"),
        ({"Layers": ["not-an-arn"]}, "layer"),
        ({"Tags": {"aws:x": "y"}}, "aws:"),
        ({"Tags": {f"k{i}": "v" for i in range(51)}}, "50"),
        ({"PackageType": "Jar"}, "packageType"),
        ({"MemorySize": "128"}, "MemorySize must be an integer"),
        ({"MemorySize": True}, "MemorySize must be an integer"),
        ({"Timeout": 3.5}, "Timeout must be an integer"),
        ({"Publish": "yes"}, "Publish must be a boolean"),
        ({"Environment": {"Variables": {"AA": 1}}}, "Variables"),
        ({"Environment": "A=1"}, "Environment must be an object"),
        ({"Layers": "arn"}, "Layers must be a list"),
        ({"Code": {"ZipFile": "%%%not base64%%%"}}, "base64"),
        ({"Code": {"ZipFile": b64(b"this is not a zip")}}, "unzip"),
        ({"Code": {"S3Bucket": "b", "S3Key": "k"}}, "S3"),
        ({"Code": {}}, "ZipFile"),
        ({"Code": None}, "Code is required"),
        ({"Code": {"ZipFile": b64(make_zip()), "ImageUri": "x:1"}}, "ImageUri"),
        # Members lamina does not implement are refused by name, never accepted and dropped.
        ({"TenancyConfig": {"TenantIsolationMode": "SHARED"}}, "PER_TENANT"),
        ({"LoggingConfig": {"LogFormat": "Text", "ApplicationLogLevel": "WARN"}}, "only be set when LogFormat is JSON"),
        ({"LoggingConfig": "JSON"}, "LoggingConfig must be an object"),
        ({"TracingConfig": {"Mode": "Active"}}, "TracingConfig is not supported by lamina with this value"),
        ({"DeadLetterConfig": {"TargetArn": "arn:aws:sqs:us-east-1:000000000000:q"}}, "DeadLetterConfig"),
        ({"KMSKeyArn": "arn:aws:kms:us-east-1:000000000000:key/1"}, "KMSKeyArn"),
        ({"Bogus": 1}, "Bogus is not supported"),
    ],
)
def test_create_rejects_invalid_fields(client, components, changes, part):
    body = create_body("valid-name")
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    assert_error(client.post(FUNCTIONS, json=body), 400, "InvalidParameterValueException", part)
    assert client.get(f"{FUNCTIONS}/valid-name").status_code == 404


def test_create_accepts_the_off_values_tools_send(client):
    body = create_body("neutral")
    body.update(TracingConfig={"Mode": "PassThrough"}, SnapStart={"ApplyOn": "None"}, DeadLetterConfig={},
                KMSKeyArn="")
    assert client.post(FUNCTIONS, json=body).status_code == 201
    resp = client.put(f"{FUNCTIONS}/neutral/configuration", json={"TracingConfig": {"Mode": "Active"}})
    assert_error(resp, 400, "InvalidParameterValueException", "TracingConfig")


def test_create_image_rejects_runtime_and_layers(client):
    body = {"FunctionName": "img", "Role": ROLE, "PackageType": "Image", "Code": {"ImageUri": "x/y:1"},
            "Runtime": "python3.11"}
    assert_error(client.post(FUNCTIONS, json=body), 400, "InvalidParameterValueException", "Image")
    body = {"FunctionName": "img", "Role": ROLE, "PackageType": "Image", "Code": {}}
    assert_error(client.post(FUNCTIONS, json=body), 400, "InvalidParameterValueException", "ImageUri")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_non_json_body_is_invalid_request_content(client, raw):
    resp = client.post(FUNCTIONS, data=raw, content_type="application/json")
    assert_error(resp, 400, "InvalidRequestContentException", "json")


def test_request_over_the_body_limit_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post(FUNCTIONS, json=create_body("big", make_zip({"a.bin": os.urandom(4096)})))
    assert_error(resp, 413, "RequestTooLargeException")


def test_get_function_serves_the_code_location(client):
    zipped = make_zip({"app.py": HANDLER_ALT})
    create(client, "getme", zipped, Tags={"team": "a"})
    resp = client.get(f"{FUNCTIONS}/getme")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["Configuration"]["FunctionName"] == "getme"
    assert doc["Code"]["RepositoryType"] == "S3"
    assert doc["Tags"] == {"team": "a"}
    assert "Concurrency" not in doc
    location = urlsplit(doc["Code"]["Location"])
    download = client.get(location.path)
    assert download.status_code == 200 and download.data == zipped
    assert download.mimetype == "application/zip"


HANDLER_ALT = "def handler(event, context):\n    return 'alt'\n"


@pytest.mark.parametrize("form", [
    "getarn",
    quote(fn_arn("getarn"), safe=""),
    quote("000000000000:function:getarn", safe=""),
    quote("getarn:$LATEST", safe=""),
    quote(fn_arn("getarn", "$LATEST"), safe=""),
])
def test_function_name_forms(client, form):
    create(client, "getarn")
    resp = client.get(f"{FUNCTIONS}/{form}/configuration")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["FunctionName"] == "getarn"


def test_get_configuration_with_qualifier(client):
    create(client, "q", Publish=True)
    doc = client.get(f"{FUNCTIONS}/q/configuration?Qualifier=%24LATEST").get_json()
    assert doc["Version"] == "$LATEST" and doc["FunctionArn"] == fn_arn("q", "$LATEST")
    doc = client.get(f"{FUNCTIONS}/q/configuration?Qualifier=1").get_json()
    assert doc["Version"] == "1" and doc["FunctionArn"] == fn_arn("q", "1")
    assert_error(client.get(f"{FUNCTIONS}/q/configuration?Qualifier=7"), 404, "ResourceNotFoundException",
                 fn_arn("q", "7"))
    assert_error(client.get(f"{FUNCTIONS}/q/configuration?Qualifier=nope"), 404, "ResourceNotFoundException")
    assert_error(client.get(f"{FUNCTIONS}/q%3A1/configuration?Qualifier=2"), 400,
                 "InvalidParameterValueException", "qualifier")


def test_get_unknown_or_foreign_function_is_404(client):
    assert_error(client.get(f"{FUNCTIONS}/missing"), 404, "ResourceNotFoundException",
                 "Function not found: " + fn_arn("missing"))
    create(client, "mine")
    foreign = quote("arn:aws:lambda:us-east-1:111111111111:function:mine", safe="")
    assert_error(client.get(f"{FUNCTIONS}/{foreign}"), 404, "ResourceNotFoundException")
    assert_error(client.get(f"{FUNCTIONS}/{'x' * 65}"), 400, "InvalidParameterValueException")


def test_list_functions_paginates_by_name(client):
    for name in ["e", "c", "a", "d", "b"]:
        create(client, name)
    names, marker = [], None
    while True:
        url = f"{FUNCTIONS}?MaxItems=2" + (f"&Marker={marker}" if marker else "")
        doc = client.get(url).get_json()
        names += [f["FunctionName"] for f in doc["Functions"]]
        assert len(doc["Functions"]) <= 2
        assert all("State" not in f for f in doc["Functions"])
        marker = doc.get("NextMarker")
        if not marker:
            break
    assert names == ["a", "b", "c", "d", "e"]
    assert client.get(f"{FUNCTIONS}/").status_code == 200


def test_list_functions_all_versions(client):
    create(client, "va", Publish=True)
    client.put(f"{FUNCTIONS}/va/configuration", json={"MemorySize": 512})
    client.post(f"{FUNCTIONS}/va/versions", json={})
    create(client, "vb")
    arns = []
    marker = None
    while True:
        doc = client.get(f"{FUNCTIONS}?FunctionVersion=ALL&MaxItems=2" + (f"&Marker={marker}" if marker else ""))
        doc = doc.get_json()
        arns += [f["FunctionArn"] for f in doc["Functions"]]
        marker = doc.get("NextMarker")
        if not marker:
            break
    assert arns == [fn_arn("va", "$LATEST"), fn_arn("va", "1"), fn_arn("va", "2"), fn_arn("vb", "$LATEST")]


@pytest.mark.parametrize("query", ["MaxItems=0", "MaxItems=10001", "MaxItems=abc", "FunctionVersion=SOME"])
def test_list_functions_rejects_bad_query(client, query):
    assert_error(client.get(f"{FUNCTIONS}?{query}"), 400, "InvalidParameterValueException")


def test_update_code_replaces_the_zip_and_frees_the_old_blob(client, components):
    old = make_zip({"app.py": "# v1\n"})
    doc = create(client, "code", old)
    new = make_zip({"app.py": "# v2\n"})
    resp = client.put(f"{FUNCTIONS}/code/code", json={"ZipFile": b64(new), "RevisionId": doc["RevisionId"]})
    assert resp.status_code == 200
    updated = resp.get_json()
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(new).digest()).decode()
    assert updated["RevisionId"] != doc["RevisionId"]
    assert components.code_store.exists(key_of(new))
    assert not components.code_store.exists(key_of(old))


def test_update_code_keeps_blobs_still_used_by_versions(client, components):
    old = make_zip({"app.py": "# kept\n"})
    create(client, "kept", old, Publish=True)
    resp = client.put(f"{FUNCTIONS}/kept/code", json={"ZipFile": b64(make_zip({"app.py": "# new\n"}))})
    assert resp.status_code == 200
    assert components.code_store.exists(key_of(old))


def test_update_code_publish_and_dry_run(client):
    create(client, "dry")
    new = make_zip({"app.py": "# dry\n"})
    resp = client.put(f"{FUNCTIONS}/dry/code", json={"ZipFile": b64(new), "DryRun": True})
    assert resp.status_code == 200
    assert resp.get_json()["CodeSha256"] == base64.b64encode(hashlib.sha256(new).digest()).decode()
    current = client.get(f"{FUNCTIONS}/dry/configuration").get_json()
    assert current["CodeSha256"] != resp.get_json()["CodeSha256"]
    resp = client.put(f"{FUNCTIONS}/dry/code", json={"ZipFile": b64(new), "Publish": True})
    assert resp.get_json()["Version"] == "1"


def test_update_code_errors(client):
    doc = create(client, "uc")
    assert_error(client.put(f"{FUNCTIONS}/uc/code", json={"ZipFile": b64(make_zip()), "RevisionId": "stale"}),
                 412, "PreconditionFailedException")
    assert_error(client.put(f"{FUNCTIONS}/uc/code", json={}), 400, "InvalidParameterValueException", "source")
    assert_error(client.put(f"{FUNCTIONS}/uc/code", json={"ImageUri": "x/y:1"}), 400,
                 "InvalidParameterValueException", "PackageType Zip")
    assert_error(client.put(f"{FUNCTIONS}/uc/code", json={"ZipFile": b64(b"nope")}), 400,
                 "InvalidParameterValueException", "unzip")
    assert_error(client.put(f"{FUNCTIONS}/uc/code", json={"ZipFile": b64(make_zip()), "Architectures": ["x"]}),
                 400, "InvalidParameterValueException")
    assert_error(client.put(f"{FUNCTIONS}/nope/code", json={"ZipFile": b64(make_zip())}), 404,
                 "ResourceNotFoundException")
    assert_error(client.put(f"{FUNCTIONS}/uc%3A1/code", json={"ZipFile": b64(make_zip())}), 400,
                 "InvalidParameterValueException")
    assert client.get(f"{FUNCTIONS}/uc/configuration").get_json()["RevisionId"] == doc["RevisionId"]


def test_update_configuration_changes_only_given_fields(client):
    doc = create(client, "cfg", Environment={"Variables": {"AA": "1", "BB": "2"}}, Description="keep")
    resp = client.put(f"{FUNCTIONS}/cfg/configuration", json={
        "MemorySize": 1024, "Timeout": 30, "Environment": {"Variables": {"CC": "3"}},
        "RevisionId": doc["RevisionId"],
    })
    assert resp.status_code == 200
    out = resp.get_json()
    assert out["MemorySize"] == 1024 and out["Timeout"] == 30
    assert out["Environment"] == {"Variables": {"CC": "3"}}
    assert out["Description"] == "keep" and out["Handler"] == "app.handler"
    assert out["RevisionId"] != doc["RevisionId"]
    cleared = client.put(f"{FUNCTIONS}/cfg/configuration", json={"Environment": {}}).get_json()
    assert "Environment" not in cleared


def test_update_configuration_errors(client):
    create(client, "cfge")
    assert_error(client.put(f"{FUNCTIONS}/cfge/configuration", json={"RevisionId": "stale", "Timeout": 5}),
                 412, "PreconditionFailedException")
    assert_error(client.put(f"{FUNCTIONS}/cfge/configuration", json={"MemorySize": 99999}), 400,
                 "InvalidParameterValueException", "memorySize")
    assert_error(client.put(f"{FUNCTIONS}/cfge/configuration", json={"Handler": ""}), 400,
                 "InvalidParameterValueException", "handler")
    assert_error(client.put(f"{FUNCTIONS}/cfge/configuration", json={"Timeout": "5"}), 400,
                 "InvalidParameterValueException", "Timeout")
    assert_error(client.put(f"{FUNCTIONS}/cfge/configuration", json={"ImageConfig": {"Command": ["x"]}}), 400,
                 "InvalidParameterValueException", "ImageConfig")
    assert_error(client.put(f"{FUNCTIONS}/gone/configuration", json={"Timeout": 5}), 404,
                 "ResourceNotFoundException")


def test_layers_in_configuration(client):
    layer = publish_layer(client, "libs")
    create(client, "withlayer", Layers=[layer["LayerVersionArn"]])
    doc = client.get(f"{FUNCTIONS}/withlayer/configuration").get_json()
    assert doc["Layers"] == [{"Arn": layer["LayerVersionArn"], "CodeSize": layer["Content"]["CodeSize"]}]
    out = client.put(f"{FUNCTIONS}/withlayer/configuration", json={"Layers": []}).get_json()
    assert "Layers" not in out


def test_unzipped_size_includes_layers(client, components, monkeypatch):
    layer = publish_layer(client, "biglayer", {"python/big.bin": b"\0" * 600_000})
    small = components.settings.with_(max_unzipped_bytes=1_000_000)
    monkeypatch.setattr(components, "settings", small)
    body = create_body("toobig", make_zip({"app.py": b"\0" * 500_000}), Layers=[layer["LayerVersionArn"]])
    assert_error(client.post(FUNCTIONS, json=body), 400, "InvalidParameterValueException", "combined with layers")


def test_delete_function_removes_everything(client, components):
    zipped = make_zip({"app.py": "# delete me\n"})
    create(client, "del", zipped, Publish=True)
    client.post(f"{FUNCTIONS}/del/aliases", json={"Name": "live", "FunctionVersion": "1"})
    resp = client.delete(f"{FUNCTIONS}/del")
    assert resp.status_code == 204 and resp.data == b""
    assert_error(client.get(f"{FUNCTIONS}/del"), 404, "ResourceNotFoundException")
    assert not components.code_store.exists(key_of(zipped))
    assert_error(client.delete(f"{FUNCTIONS}/del"), 404, "ResourceNotFoundException")


def test_delete_one_version(client):
    create(client, "dv", Publish=True)
    client.put(f"{FUNCTIONS}/dv/configuration", json={"Timeout": 9})
    assert client.post(f"{FUNCTIONS}/dv/versions", json={}).get_json()["Version"] == "2"
    client.post(f"{FUNCTIONS}/dv/aliases", json={"Name": "prod", "FunctionVersion": "1",
                                                 "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}}})
    assert_error(client.delete(f"{FUNCTIONS}/dv?Qualifier=1"), 409, "ResourceConflictException", "prod")
    assert_error(client.delete(f"{FUNCTIONS}/dv?Qualifier=2"), 409, "ResourceConflictException", "prod")
    assert_error(client.delete(f"{FUNCTIONS}/dv?Qualifier=%24LATEST"), 400, "InvalidParameterValueException")
    assert_error(client.delete(f"{FUNCTIONS}/dv?Qualifier=prod"), 400, "InvalidParameterValueException")
    assert_error(client.delete(f"{FUNCTIONS}/dv?Qualifier=9"), 404, "ResourceNotFoundException")
    client.put(f"{FUNCTIONS}/dv/aliases/prod", json={"RoutingConfig": {"AdditionalVersionWeights": {}}})
    assert client.delete(f"{FUNCTIONS}/dv?Qualifier=2").status_code == 204
    assert_error(client.get(f"{FUNCTIONS}/dv?Qualifier=2"), 404, "ResourceNotFoundException")
    assert client.get(f"{FUNCTIONS}/dv?Qualifier=1").status_code == 200


def test_code_download_of_unknown_key_is_404(client):
    assert_error(client.get("/lamina/code/" + "0" * 64), 404, "ResourceNotFoundException")
    assert_error(client.get("/lamina/code/not-a-key"), 404, "ResourceNotFoundException")


def test_changes_invalidate_the_invoke_cache(client, components, redis):
    create(client, "cached")
    gen = catalog.generation(redis, "000000000000", "cached")
    assert catalog.fill(redis, "000000000000", "cached", "$LATEST", {"version": "$LATEST"}, gen)
    assert catalog.get(redis, "000000000000", "cached", "$LATEST") is not None
    client.put(f"{FUNCTIONS}/cached/configuration", json={"Timeout": 10})
    assert catalog.get(redis, "000000000000", "cached", "$LATEST") is None
