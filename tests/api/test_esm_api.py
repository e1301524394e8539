"""Event source mappings through boto3: Create/Get/List/Update/Delete at Lambda's paths (202 for changes),
validation, and removal together with their function."""

from __future__ import annotations

from typing import Any

import pytest
from lamina.services.queues import queues
from support.functions import Functions

APP = "def handler(event, context):\n    return None\n"


@pytest.fixture
def setup(client: Any, components: Any) -> str:
    Functions(client, components, None).create("esm-fn", {"app.py": APP})
    queues.create_queue(components, components.settings.account_id, "src")
    return queues.queue_arn(components.settings.region, components.settings.account_id, "src")


def test_mapping_crud_with_boto3(lambda_client: Any, setup: str) -> None:
    made = lambda_client.create_event_source_mapping(
        FunctionName="esm-fn", EventSourceArn=setup, BatchSize=5, FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid = made["UUID"]
    assert made["EventSourceArn"] == setup and made["BatchSize"] == 5
    assert made["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:esm-fn"
    assert made["State"] == "Enabled" and made["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert made["EventSourceMappingArn"].endswith(f":event-source-mapping:{uuid}")
    assert lambda_client.get_event_source_mapping(UUID=uuid)["UUID"] == uuid
    listed = lambda_client.list_event_source_mappings(FunctionName="esm-fn")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert lambda_client.list_event_source_mappings(EventSourceArn=setup)["EventSourceMappings"][0]["UUID"] == uuid
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.create_event_source_mapping(FunctionName="esm-fn", EventSourceArn=setup)
    updated = lambda_client.update_event_source_mapping(UUID=uuid, Enabled=False, BatchSize=100,
                                                        MaximumBatchingWindowInSeconds=2)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (updated["State"], updated["BatchSize"], updated["MaximumBatchingWindowInSeconds"]) == ("Disabled", 100, 2)
    deleted = lambda_client.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_event_source_mapping(UUID=uuid)


def test_mapping_validation(client: Any, setup: str) -> None:
    path = "/2015-03-31/event-source-mappings"
    cases = [
        {"FunctionName": "esm-fn", "EventSourceArn": setup, "BatchSize": 11},  # > 10 needs a window
        {"FunctionName": "esm-fn", "EventSourceArn": setup, "BatchSize": 0},
        {"FunctionName": "esm-fn", "EventSourceArn": setup, "FunctionResponseTypes": ["Nope"]},
        {"FunctionName": "esm-fn", "EventSourceArn": setup.replace(":src", ":missing")},
        {"FunctionName": "esm-fn", "EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/s"},
        {"FunctionName": "esm-fn"},
    ]
    for body in cases:
        resp = client.post(path, json=body)
        assert (resp.status_code, resp.headers["X-Amzn-ErrorType"]) == (400, "InvalidParameterValueException"), body
    assert client.post(path, json={"FunctionName": "ghost", "EventSourceArn": setup}).status_code == 404
    assert client.post(path, json={"FunctionName": "esm-fn", "EventSourceArn": setup, "BatchSize": 50,
                                   "MaximumBatchingWindowInSeconds": 1}).status_code == 202


def test_deleting_the_function_deletes_its_mappings(client: Any, setup: str) -> None:
    path = "/2015-03-31/event-source-mappings"
    assert client.post(path, json={"FunctionName": "esm-fn", "EventSourceArn": setup}).status_code == 202
    assert client.delete("/2015-03-31/functions/esm-fn").status_code in (200, 204)
    assert client.get(path).get_json()["EventSourceMappings"] == []


def test_get_function_shows_every_trigger_and_delete_function_removes_them(
    client: Any, lambda_client: Any, setup: str
) -> None:
    assert client.post("/2015-03-31/event-source-mappings",
                       json={"FunctionName": "esm-fn", "EventSourceArn": setup}).status_code == 202
    assert client.post("/lamina/v1/schedules", json={"Name": "hourly", "FunctionName": "esm-fn",
                                                      "ScheduleExpression": "rate(1 hour)"}).status_code == 201
    assert client.post("/2021-10-31/functions/esm-fn/url", json={"AuthType": "NONE"}).status_code == 201
    triggers = client.get("/2015-03-31/functions/esm-fn").get_json()["Triggers"]
    assert [s["Name"] for s in triggers["Schedules"]] == ["hourly"]
    assert [m["EventSourceArn"] for m in triggers["EventSourceMappings"]] == [setup]
    assert len(triggers["FunctionUrlConfigs"]) == 1
    assert lambda_client.get_function(FunctionName="esm-fn")["Configuration"]["FunctionName"] == "esm-fn"
    assert client.delete("/2015-03-31/functions/esm-fn").status_code in (200, 204)
    assert client.get("/2015-03-31/event-source-mappings").get_json()["EventSourceMappings"] == []
    assert client.get("/lamina/v1/schedules").get_json()["Schedules"] == []
    url_id = triggers["FunctionUrlConfigs"][0]["FunctionUrl"].rstrip("/").rsplit("/", 1)[1]
    assert client.get(f"/lamina-url/{url_id}/").status_code == 404
    assert client.get("/lamina/v1/queues/src").status_code == 200  # the queue itself is not the function's
