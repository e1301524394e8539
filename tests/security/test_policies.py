"""Resource policies: AddPermission / GetPolicy / RemovePermission, cross-account grants, is_allowed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from lamina.services.iam import policies
from support.lambda_api import assert_error, create, fn_arn

FUNCTIONS = "/2015-03-31/functions"


def test_add_get_remove_permission_with_boto3(lambda_client: Any, client: Any) -> None:
    create(client, "pol")
    out = lambda_client.add_permission(FunctionName="pol", StatementId="events", Action="lambda:InvokeFunction",
                                       Principal="events.lamina",
                                       SourceArn="arn:aws:events:us-east-1:000000000000:rule/nightly")
    statement = json.loads(out["Statement"])
    assert statement == {
        "Sid": "events", "Effect": "Allow", "Principal": {"Service": "events.lamina"},
        "Action": "lambda:InvokeFunction", "Resource": fn_arn("pol"),
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:000000000000:rule/nightly"}},
    }
    lambda_client.add_permission(FunctionName="pol", StatementId="team", Action="lambda:GetFunction",
                                 Principal="222222222222")
    policy = json.loads(lambda_client.get_policy(FunctionName="pol")["Policy"])
    assert policy["Version"] == "2012-10-17" and [s["Sid"] for s in policy["Statement"]] == ["events", "team"]
    assert policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    with pytest.raises(ClientError) as err:
        lambda_client.add_permission(FunctionName="pol", StatementId="team", Action="lambda:*", Principal="*")
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    lambda_client.remove_permission(FunctionName="pol", StatementId="team")
    lambda_client.remove_permission(FunctionName="pol", StatementId="events")
    with pytest.raises(ClientError) as err:
        lambda_client.get_policy(FunctionName="pol")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        lambda_client.remove_permission(FunctionName="pol", StatementId="team")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_policies_on_versions_and_aliases(client: Any) -> None:
    create(client, "qual", Publish=True)
    assert client.post(f"{FUNCTIONS}/qual/aliases", json={"Name": "live", "FunctionVersion": "1"}).status_code == 201
    for qualifier in ("1", "live"):
        resp = client.post(f"{FUNCTIONS}/qual/policy?Qualifier={qualifier}",
                           json={"StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "sqs.lamina"})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        assert json.loads(resp.get_json()["Statement"])["Resource"] == fn_arn("qual", qualifier)
    assert_error(client.get(f"{FUNCTIONS}/qual/policy"), 404, "ResourceNotFoundException")
    assert_error(client.post(f"{FUNCTIONS}/qual/policy?Qualifier=nope",
                             json={"StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "sqs.lamina"}),
                 404, "ResourceNotFoundException")
    for bad in ({"StatementId": "bad id", "Action": "lambda:InvokeFunction", "Principal": "*"},
                {"StatementId": "s2", "Action": "s3:GetObject", "Principal": "*"},
                {"StatementId": "s2", "Action": "lambda:InvokeFunction", "Principal": "has space"},
                {"StatementId": "s2", "Action": "lambda:InvokeFunction"}):
        assert_error(client.post(f"{FUNCTIONS}/qual/policy", json=bad), 400, "InvalidParameterValueException")


def test_policy_size_limit(client: Any) -> None:
    create(client, "big")
    status = 201
    for i in range(200):
        status = client.post(f"{FUNCTIONS}/big/policy", json={
            "StatementId": f"s{i}", "Action": "lambda:InvokeFunction", "Principal": "events.lamina",
            "SourceArn": "arn:aws:events:us-east-1:000000000000:rule/" + "r" * 200}).status_code
        if status != 201:
            break
    assert status == 400


def test_is_allowed_for_service_principals_and_accounts(client: Any, components: Any) -> None:
    create(client, "trig", Publish=True)
    client.post(f"{FUNCTIONS}/trig/policy", json={
        "StatementId": "sched", "Action": "lambda:InvokeFunction", "Principal": "events.lamina",
        "SourceArn": "arn:aws:events:us-east-1:000000000000:rule/*"})
    client.post(f"{FUNCTIONS}/trig/policy?Qualifier=1", json={
        "StatementId": "queue", "Action": "lambda:*", "Principal": "sqs.lamina"})
    allowed = lambda **kw: policies.is_allowed(components, "000000000000", "trig", kw.pop("q", None), **kw)  # noqa: E731
    assert allowed(principal="events.lamina", source_arn="arn:aws:events:us-east-1:000000000000:rule/a")
    assert not allowed(principal="events.lamina")  # the SourceArn condition needs a source
    assert not allowed(principal="events.lamina", source_arn="arn:aws:events:us-east-1:111111111111:rule/a")
    assert not allowed(principal="sqs.lamina")  # granted on version 1 only
    assert allowed(principal="sqs.lamina", q="1")
    assert not allowed(principal="url.lamina", q="1")
    assert not allowed(principal="222222222222")
    assert not policies.is_allowed(components, "000000000000", "ghost", None, principal="events.lamina")


def test_cross_account_grant_lets_exactly_the_granted_action_through(client: Any, boto_for: Any,
                                                                     other_credentials: Any) -> None:
    create(client, "shared")
    theirs = boto_for(other_credentials.access_key_id, other_credentials.secret_access_key)
    with pytest.raises(ClientError):
        theirs.get_function(FunctionName=fn_arn("shared"))
    resp = client.post(f"{FUNCTIONS}/shared/policy", json={
        "StatementId": "team-b", "Action": "lambda:GetFunction", "Principal": "222222222222"})
    assert resp.status_code == 201
    got = theirs.get_function(FunctionName=fn_arn("shared"))
    assert got["Configuration"]["FunctionArn"] == fn_arn("shared")
    # Only what was granted: no configuration update, no delete, no policy reading.
    for call in (lambda: theirs.update_function_configuration(FunctionName=fn_arn("shared"), Timeout=9),
                 lambda: theirs.delete_function(FunctionName=fn_arn("shared")),
                 lambda: theirs.get_policy(FunctionName=fn_arn("shared"))):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert client.get(f"{FUNCTIONS}/{quote(fn_arn('shared'), safe='')}").status_code == 200
