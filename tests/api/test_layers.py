"""PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions, DeleteLayerVersion."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote, urlsplit

import pytest
from support.lambda_api import assert_error, b64, create, make_zip, publish_layer

L = "/2018-10-31/layers"
LAYER_ARN = "arn:aws:lambda:us-east-1:000000000000:layer:"


def test_publish_and_get_layer_versions(client):
    files = {"python/lib.py": "X = 1\n"}
    first = publish_layer(client, "libs", files, Description="one", CompatibleRuntimes=["python3.11"],
                          CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    zipped = make_zip(files)
    assert first["Version"] == 1
    assert first["LayerArn"] == LAYER_ARN + "libs"
    assert first["LayerVersionArn"] == LAYER_ARN + "libs:1"
    assert first["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert first["Content"]["CodeSize"] == len(zipped)
    assert first["CompatibleRuntimes"] == ["python3.11"] and first["LicenseInfo"] == "MIT"
    download = client.get(urlsplit(first["Content"]["Location"]).path)
    assert download.status_code == 200 and download.data == zipped
    second = publish_layer(client, "libs")
    assert second["Version"] == 2
    got = client.get(f"{L}/libs/versions/1").get_json()
    assert got == first
    by_arn = client.get(f"{L}?find=LayerVersion&Arn={quote(first['LayerVersionArn'], safe='')}")
    assert by_arn.status_code == 200 and by_arn.get_json()["Version"] == 1
    by_layer_arn = client.get(f"{L}/{quote(LAYER_ARN + 'libs', safe='')}/versions/2")
    assert by_layer_arn.status_code == 200 and by_layer_arn.get_json()["Version"] == 2


def test_list_layers_and_versions(client):
    publish_layer(client, "py", CompatibleRuntimes=["python3.11"])
    publish_layer(client, "py", CompatibleRuntimes=["nodejs18.x"])
    publish_layer(client, "node", CompatibleRuntimes=["nodejs18.x"], CompatibleArchitectures=["arm64"])
    publish_layer(client, "any")
    doc = client.get(L).get_json()
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in doc["Layers"]] == [
        ("any", 1), ("node", 1), ("py", 2)]
    doc = client.get(f"{L}?CompatibleRuntime=python3.11").get_json()
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in doc["Layers"]] == [("py", 1)]
    doc = client.get(f"{L}?CompatibleArchitecture=arm64").get_json()
    assert [x["LayerName"] for x in doc["Layers"]] == ["node"]
    page1 = client.get(f"{L}?MaxItems=2").get_json()
    assert len(page1["Layers"]) == 2 and page1["NextMarker"] == "node"
    page2 = client.get(f"{L}?MaxItems=2&Marker=node").get_json()
    assert [x["LayerName"] for x in page2["Layers"]] == ["py"] and "NextMarker" not in page2
    versions = client.get(f"{L}/py/versions").get_json()["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1] and "Content" not in versions[0]
    first = client.get(f"{L}/py/versions?MaxItems=1").get_json()
    assert [v["Version"] for v in first["LayerVersions"]] == [2] and first["NextMarker"] == "2"
    rest = client.get(f"{L}/py/versions?MaxItems=1&Marker=2").get_json()
    assert [v["Version"] for v in rest["LayerVersions"]] == [1]
    assert client.get(f"{L}/unknown/versions").get_json() == {"LayerVersions": []}


def test_delete_layer_version(client, components):
    files = {"python/used.py": "USED = 1\n"}
    used = publish_layer(client, "del", files)
    key = hashlib.sha256(make_zip(files)).hexdigest()
    create(client, "user", Layers=[used["LayerVersionArn"]])
    assert client.delete(f"{L}/del/versions/1").status_code == 204
    assert_error(client.get(f"{L}/del/versions/1"), 404, "ResourceNotFoundException")
    assert client.get(f"{L}/del/versions").get_json()["LayerVersions"] == []
    assert components.code_store.exists(key), "a function still uses the layer"
    assert client.get("/2015-03-31/functions/user").status_code == 200
    assert publish_layer(client, "del")["Version"] == 2, "numbers are not reused"
    assert_error(client.post("/2015-03-31/functions", json={
        "FunctionName": "late", "Role": "arn:aws:iam::000000000000:role/r", "Runtime": "python3.11",
        "Handler": "a.b", "Code": {"ZipFile": b64(make_zip())}, "Layers": [used["LayerVersionArn"]],
    }), 400, "InvalidParameterValueException", "does not exist")
    client.delete("/2015-03-31/functions/user")
    assert not components.code_store.exists(key)
    assert client.delete(f"{L}/del/versions/1").status_code == 204, "deleting again is fine"


@pytest.mark.parametrize("body, part", [
    ({"Content": {"ZipFile": b64(b"not a zip")}}, "unzip"),
    ({"Content": {}}, "ZipFile"),
    ({"Content": {"S3Bucket": "b", "S3Key": "k"}}, "S3"),
    ({}, "Content is required"),
    ({"Content": {"ZipFile": b64(make_zip())}, "CompatibleRuntimes": ["cobol"]}, "runtime"),
    ({"Content": {"ZipFile": b64(make_zip())}, "CompatibleRuntimes": ["python3.11"] * 16}, "15"),
    ({"Content": {"ZipFile": b64(make_zip())}, "CompatibleArchitectures": ["mips"]}, None),
    ({"Content": {"ZipFile": b64(make_zip())}, "LicenseInfo": "l" * 513}, "licenseInfo"),
    ({"Content": {"ZipFile": b64(make_zip())}, "Description": "d" * 257}, "description"),
    ({"Content": {"ZipFile": b64(make_zip())}, "CompatibleRuntimes": "python3.11"}, "list"),
])
def test_publish_layer_errors(client, body, part):
    assert_error(client.post(f"{L}/bad/versions", json=body), 400, "InvalidParameterValueException", part)
    assert client.get(f"{L}/bad/versions").get_json() == {"LayerVersions": []}


def test_layer_lookup_errors(client):
    assert_error(client.post(f"{L}/bad%20name/versions", json={"Content": {"ZipFile": b64(make_zip())}}), 400,
                 "InvalidParameterValueException", "layerName")
    assert_error(client.get(f"{L}/none/versions/1"), 404, "ResourceNotFoundException")
    assert_error(client.get(f"{L}/none/versions/x"), 400, "InvalidParameterValueException")
    assert_error(client.get(f"{L}?find=Other"), 400, "InvalidParameterValueException")
    assert_error(client.get(f"{L}?find=LayerVersion&Arn=nope"), 400, "InvalidParameterValueException")
    assert_error(client.get(f"{L}?find=LayerVersion&Arn={quote(LAYER_ARN + 'none:1', safe='')}"), 404,
                 "ResourceNotFoundException")
    assert_error(client.get(f"{L}?CompatibleRuntime=cobol"), 400, "InvalidParameterValueException")
    assert_error(client.get(f"{L}?MaxItems=51"), 400, "InvalidParameterValueException")
