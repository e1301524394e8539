"""Put (replace) / Update (merge) / Get / Delete / List FunctionEventInvokeConfig."""

from __future__ import annotations

import pytest
from support.lambda_api import assert_error, create, fn_arn

E = "/2019-09-25/functions/{}/event-invoke-config"
DEST = "arn:aws:sqs:us-east-1:000000000000:queue"


def test_put_update_get_delete(client):
    create(client, "ev")
    url = E.format("ev")
    resp = client.put(url, json={"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 600,
                                 "DestinationConfig": {"OnFailure": {"Destination": DEST}}})
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["FunctionArn"] == fn_arn("ev", "$LATEST")
    assert doc["MaximumRetryAttempts"] == 1 and doc["MaximumEventAgeInSeconds"] == 600
    assert doc["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": DEST}}
    assert isinstance(doc["LastModified"], float)
    merged = client.post(url, json={"MaximumRetryAttempts": 0}).get_json()
    assert merged["MaximumRetryAttempts"] == 0 and merged["MaximumEventAgeInSeconds"] == 600
    assert merged["DestinationConfig"]["OnFailure"] == {"Destination": DEST}
    replaced = client.put(url, json={"MaximumRetryAttempts": 2}).get_json()
    assert "MaximumEventAgeInSeconds" not in replaced
    assert replaced["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    assert client.get(url).get_json()["MaximumRetryAttempts"] == 2
    assert client.delete(url).status_code == 204
    assert_error(client.get(url), 404, "ResourceNotFoundException", "EventInvokeConfig")
    assert_error(client.delete(url), 404, "ResourceNotFoundException")


def test_qualifiers_and_list(client):
    create(client, "evq", Publish=True)
    client.post("/2015-03-31/functions/evq/aliases", json={"Name": "live", "FunctionVersion": "1"})
    for q in ("1", "live", "%24LATEST"):
        resp = client.put(E.format("evq") + f"?Qualifier={q}", json={"MaximumRetryAttempts": 1})
        assert resp.status_code == 200, resp.get_data(as_text=True)
    assert client.get(E.format("evq") + "?Qualifier=live").get_json()["FunctionArn"] == fn_arn("evq", "live")
    doc = client.get(E.format("evq") + "/list?MaxItems=2").get_json()
    assert [c["FunctionArn"] for c in doc["FunctionEventInvokeConfigs"]] == [fn_arn("evq", "$LATEST"),
                                                                            fn_arn("evq", "1")]
    rest = client.get(E.format("evq") + f"/list?Marker={doc['NextMarker']}").get_json()
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [fn_arn("evq", "live")]
    assert client.delete("/2015-03-31/functions/evq/aliases/live").status_code == 204
    assert_error(client.get(E.format("evq") + "?Qualifier=live"), 404, "ResourceNotFoundException")


@pytest.mark.parametrize("body, part", [
    ({"MaximumRetryAttempts": 3}, "maximumRetryAttempts"),
    ({"MaximumRetryAttempts": -1}, "maximumRetryAttempts"),
    ({"MaximumEventAgeInSeconds": 59}, "maximumEventAgeInSeconds"),
    ({"MaximumEventAgeInSeconds": 21601}, "maximumEventAgeInSeconds"),
    ({"MaximumRetryAttempts": "1"}, "integer"),
    ({"DestinationConfig": {"OnSuccess": {"Destination": "not-an-arn"}}}, "destination"),
    ({"DestinationConfig": "x"}, "object"),
    ({}, "at least one"),
])
def test_put_errors(client, body, part):
    create(client, "eve")
    assert_error(client.put(E.format("eve"), json=body), 400, "InvalidParameterValueException", part)
    assert_error(client.get(E.format("eve")), 404, "ResourceNotFoundException")


def test_unknown_function_or_qualifier(client):
    create(client, "evu")
    assert_error(client.put(E.format("none"), json={"MaximumRetryAttempts": 1}), 404, "ResourceNotFoundException")
    assert_error(client.put(E.format("evu") + "?Qualifier=9", json={"MaximumRetryAttempts": 1}), 404,
                 "ResourceNotFoundException")
    assert_error(client.post(E.format("evu") + "?Qualifier=nope", json={"MaximumRetryAttempts": 1}), 404,
                 "ResourceNotFoundException")
    assert_error(client.get(E.format("none") + "/list"), 404, "ResourceNotFoundException")
