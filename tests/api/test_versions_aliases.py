"""PublishVersion, ListVersionsByFunction and the alias operations."""

from __future__ import annotations

import pytest
from support.lambda_api import assert_error, create, fn_arn

F = "/2015-03-31/functions"


def publish(client, name, **body):
    return client.post(f"{F}/{name}/versions", json=body)


def test_publish_numbers_versions_and_skips_unchanged(client):
    doc = create(client, "pv", Description="first")
    resp = publish(client, "pv", Description="v1")
    assert resp.status_code == 201
    v1 = resp.get_json()
    assert v1["Version"] == "1" and v1["FunctionArn"] == fn_arn("pv", "1") and v1["Description"] == "v1"
    assert v1["CodeSha256"] == doc["CodeSha256"] and v1["State"] == "Active"
    again = publish(client, "pv")
    assert again.status_code == 201 and again.get_json()["Version"] == "1"
    client.put(f"{F}/pv/configuration", json={"MemorySize": 256})
    v2 = publish(client, "pv").get_json()
    assert v2["Version"] == "2" and v2["MemorySize"] == 256
    assert v2["Description"] == "first"
    client.delete(f"{F}/pv?Qualifier=2")
    client.put(f"{F}/pv/configuration", json={"MemorySize": 512})
    assert publish(client, "pv").get_json()["Version"] == "3"


def test_publish_preconditions(client):
    doc = create(client, "pc")
    assert_error(publish(client, "pc", RevisionId="stale"), 412, "PreconditionFailedException", "Revision")
    assert_error(publish(client, "pc", CodeSha256="AAAA"), 400, "InvalidParameterValueException", "CodeSHA256")
    ok = publish(client, "pc", CodeSha256=doc["CodeSha256"], RevisionId=doc["RevisionId"])
    assert ok.status_code == 201 and ok.get_json()["Version"] == "1"
    assert_error(publish(client, "nope"), 404, "ResourceNotFoundException")
    assert_error(publish(client, "pc", Description="x" * 257), 400, "InvalidParameterValueException")


def test_list_versions_paginates(client):
    create(client, "lv", Publish=True)
    for mem in (256, 512):
        client.put(f"{F}/lv/configuration", json={"MemorySize": mem})
        publish(client, "lv")
    seen, marker = [], None
    while True:
        doc = client.get(f"{F}/lv/versions?MaxItems=2" + (f"&Marker={marker}" if marker else "")).get_json()
        seen += [v["Version"] for v in doc["Versions"]]
        marker = doc.get("NextMarker")
        if not marker:
            break
    assert seen == ["$LATEST", "1", "2", "3"]
    assert_error(client.get(f"{F}/missing/versions"), 404, "ResourceNotFoundException")
    assert_error(client.get(f"{F}/lv/versions?Marker=bogus"), 400, "InvalidParameterValueException")


@pytest.fixture
def two_versions(client):
    create(client, "al", Publish=True)
    client.put(f"{F}/al/configuration", json={"Timeout": 10})
    publish(client, "al")


def test_alias_lifecycle(client, two_versions):
    resp = client.post(f"{F}/al/aliases", json={
        "Name": "live", "FunctionVersion": "1", "Description": "d",
        "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.25}},
    })
    assert resp.status_code == 201
    alias = resp.get_json()
    assert alias["AliasArn"] == fn_arn("al", "live") and alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    assert client.get(f"{F}/al/aliases/live").get_json() == alias
    assert client.get(f"{F}/al/configuration?Qualifier=live").get_json()["Version"] == "1"
    assert_error(client.put(f"{F}/al/aliases/live", json={"FunctionVersion": "2", "RevisionId": "x"}), 412,
                 "PreconditionFailedException")
    updated = client.put(f"{F}/al/aliases/live", json={
        "FunctionVersion": "2", "RoutingConfig": {"AdditionalVersionWeights": {}}, "RevisionId": alias["RevisionId"],
    }).get_json()
    assert updated["FunctionVersion"] == "2" and "RoutingConfig" not in updated
    assert updated["Description"] == "d" and updated["RevisionId"] != alias["RevisionId"]
    assert client.delete(f"{F}/al/aliases/live").status_code == 204
    assert_error(client.get(f"{F}/al/aliases/live"), 404, "ResourceNotFoundException", "live")
    assert_error(client.delete(f"{F}/al/aliases/live"), 404, "ResourceNotFoundException")


def test_list_aliases_filters_and_paginates(client, two_versions):
    for name, version in [("c", "1"), ("a", "2"), ("b", "1"), ("d", "$LATEST")]:
        assert client.post(f"{F}/al/aliases", json={"Name": name, "FunctionVersion": version}).status_code == 201
    doc = client.get(f"{F}/al/aliases?MaxItems=3").get_json()
    assert [a["Name"] for a in doc["Aliases"]] == ["a", "b", "c"]
    rest = client.get(f"{F}/al/aliases?Marker={doc['NextMarker']}").get_json()
    assert [a["Name"] for a in rest["Aliases"]] == ["d"] and "NextMarker" not in rest
    only1 = client.get(f"{F}/al/aliases?FunctionVersion=1").get_json()
    assert [a["Name"] for a in only1["Aliases"]] == ["b", "c"]


@pytest.mark.parametrize("body, status, error, part", [
    ({"Name": "123", "FunctionVersion": "1"}, 400, "InvalidParameterValueException", "name"),
    ({"Name": "a" * 129, "FunctionVersion": "1"}, 400, "InvalidParameterValueException", "name"),
    ({"Name": "x", "FunctionVersion": "one"}, 400, "InvalidParameterValueException", "functionVersion"),
    ({"Name": "x"}, 400, "InvalidParameterValueException", "FunctionVersion is required"),
    ({"Name": "x", "FunctionVersion": "9"}, 404, "ResourceNotFoundException", None),
    ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}}},
     400, "InvalidParameterValueException", "greater than 1"),
    ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}}},
     400, "InvalidParameterValueException", None),
    ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": "0.5"}}},
     400, "InvalidParameterValueException", None),
    ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
     400, "InvalidParameterValueException", "already included"),
    ({"Name": "x", "FunctionVersion": "$LATEST", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
     400, "InvalidParameterValueException", "$LATEST"),
    ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"$LATEST": 0.5}}},
     400, "InvalidParameterValueException", None),
    ({"Name": "x", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"7": 0.5}}},
     404, "ResourceNotFoundException", None),
    ({"Name": "x", "FunctionVersion": "1", "Description": "d" * 257}, 400, "InvalidParameterValueException", None),
])
def test_create_alias_errors(client, two_versions, body, status, error, part):
    assert_error(client.post(f"{F}/al/aliases", json=body), status, error, part)
    assert client.get(f"{F}/al/aliases").get_json()["Aliases"] == []


def test_alias_conflicts_and_missing_function(client, two_versions):
    assert client.post(f"{F}/al/aliases", json={"Name": "x", "FunctionVersion": "1"}).status_code == 201
    assert_error(client.post(f"{F}/al/aliases", json={"Name": "x", "FunctionVersion": "2"}), 409,
                 "ResourceConflictException", "x")
    assert_error(client.post(f"{F}/none/aliases", json={"Name": "x", "FunctionVersion": "1"}), 404,
                 "ResourceNotFoundException")
    assert_error(client.get(f"{F}/none/aliases"), 404, "ResourceNotFoundException")
    assert_error(client.put(f"{F}/al/aliases/zz", json={}), 404, "ResourceNotFoundException")
    assert_error(client.put(f"{F}/al/aliases/x", json={"FunctionVersion": "8"}), 404, "ResourceNotFoundException")
