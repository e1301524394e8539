"""Put/Get/DeleteFunctionConcurrency and the unreserved minimum."""

from __future__ import annotations

from support.lambda_api import assert_error, create


def put(client, name, n):
    return client.put(f"/2017-10-31/functions/{name}/concurrency", json={"ReservedConcurrentExecutions": n})


def test_put_get_delete(client):
    create(client, "c1")
    assert client.get("/2019-09-30/functions/c1/concurrency").get_json() == {}
    resp = put(client, "c1", 10)
    assert resp.status_code == 200 and resp.get_json() == {"ReservedConcurrentExecutions": 10}
    assert client.get("/2019-09-30/functions/c1/concurrency").get_json() == {"ReservedConcurrentExecutions": 10}
    assert client.get("/2015-03-31/functions/c1").get_json()["Concurrency"] == {"ReservedConcurrentExecutions": 10}
    settings = client.get("/2016-08-19/account-settings").get_json()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 990
    assert put(client, "c1", 0).get_json() == {"ReservedConcurrentExecutions": 0}
    assert client.delete("/2017-10-31/functions/c1/concurrency").status_code == 204
    assert client.get("/2019-09-30/functions/c1/concurrency").get_json() == {}


def test_at_least_100_stay_unreserved(client):
    create(client, "big")
    create(client, "other")
    assert put(client, "big", 900).status_code == 200
    assert_error(put(client, "other", 1), 400, "InvalidParameterValueException", "[100]")
    assert put(client, "big", 850).status_code == 200
    assert put(client, "other", 50).status_code == 200
    assert_error(put(client, "big", 901), 400, "InvalidParameterValueException")
    assert client.get("/2019-09-30/functions/big/concurrency").get_json() == {"ReservedConcurrentExecutions": 850}


def test_concurrency_errors(client):
    create(client, "ce")
    assert_error(put(client, "ce", -1), 400, "InvalidParameterValueException")
    assert_error(put(client, "ce", "5"), 400, "InvalidParameterValueException", "integer")
    assert_error(client.put("/2017-10-31/functions/ce/concurrency", json={}), 400,
                 "InvalidParameterValueException", "required")
    assert_error(put(client, "none", 5), 404, "ResourceNotFoundException")
    assert_error(client.get("/2019-09-30/functions/none/concurrency"), 404, "ResourceNotFoundException")
    assert_error(client.delete("/2017-10-31/functions/none/concurrency"), 404, "ResourceNotFoundException")
