"""Administration over HTTP with AWS's own IAM client (boto3 ``iam``, query protocol, SigV4 service ``iam``):
users, access keys (create, list, deactivate, delete), execution roles and inline policies; who may do it;
accounts for the platform's administrators; bad input in IAM's own error codes."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lamina.services.iam import iam as iam_service

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                            "Principal": {"Service": "lambda.amazonaws.com"}}]})
INVOKE_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "*"}]})


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _client(url: str, service: str, key_id: str, secret: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def _until(check: Any, limit: float = 20.0) -> Any:
    """Other processes trust a key they looked up for a few seconds; this one forgets at once."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_users_and_access_keys_through_boto3s_iam_client(aws_client: Any, live_server: Any) -> None:
    iam = aws_client("iam")
    made = iam.create_user(UserName="dev")["User"]
    assert made["UserName"] == "dev" and made["Arn"] == "arn:aws:iam::000000000000:user/dev"
    assert made["UserId"].startswith("AIDA")
    assert "dev" in [u["UserName"] for u in iam.list_users()["Users"]]
    assert iam.get_user(UserName="dev")["User"]["UserId"] == made["UserId"]
    with pytest.raises(ClientError) as err:
        iam.create_user(UserName="dev")
    assert _code(err) == "EntityAlreadyExists"
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    assert key["Status"] == "Active" and key["SecretAccessKey"]
    listed = iam.list_access_keys(UserName="dev")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]] and "SecretAccessKey" not in listed[0]
    # Paginators and waiters of the SDK work on these shapes.
    assert any(u["UserName"] == "dev" for page in iam.get_paginator("list_users").paginate() for u in page["Users"])
    iam.get_waiter("user_exists").wait(UserName="dev")

    dev_lambda = _client(live_server.url, "lambda", key["AccessKeyId"], key["SecretAccessKey"])
    assert "Functions" in dev_lambda.list_functions()
    # Not an administrator: it may not manage the account.
    dev_iam = _client(live_server.url, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as err:
        dev_iam.create_user(UserName="intruder")
    assert _code(err) == "AccessDenied" and err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # An inline policy limits the user; deleting its last policy leaves nothing allowed (IAM's rule).
    iam.put_user_policy(UserName="dev", PolicyName="invoke-only", PolicyDocument=INVOKE_ONLY)
    assert iam.list_user_policies(UserName="dev")["PolicyNames"] == ["invoke-only"]
    doc = iam.get_user_policy(UserName="dev", PolicyName="invoke-only")["PolicyDocument"]
    assert doc["Statement"][0]["Action"] == ["lambda:InvokeFunction"]

    def listing_refused() -> None:
        with pytest.raises(ClientError) as refused:
            dev_lambda.list_functions()
        assert _code(refused) == "AccessDeniedException"

    _until(listing_refused)
    # AdministratorAccess makes the user an administrator of the account.
    iam.attach_user_policy(UserName="dev", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert iam.list_attached_user_policies(UserName="dev")["AttachedPolicies"][0]["PolicyName"] == \
        "AdministratorAccess"
    _until(lambda: dev_iam.list_users())
    iam.detach_user_policy(UserName="dev", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.delete_user_policy(UserName="dev", PolicyName="invoke-only")

    # Deactivated, the key stops working; active again, it works; deleted, gone.
    iam.update_access_key(UserName="dev", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName="dev")["AccessKeyMetadata"][0]["Status"] == "Inactive"

    def key_refused() -> None:
        with pytest.raises(ClientError) as refused:
            dev_lambda.list_functions()
        assert _code(refused) == "UnrecognizedClientException"

    _until(key_refused)
    with pytest.raises(ClientError) as err:
        iam.delete_user(UserName="dev")
    assert _code(err) == "DeleteConflict"  # its keys first, as IAM says
    iam.delete_access_key(UserName="dev", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="dev")
    with pytest.raises(ClientError) as err:
        iam.get_user(UserName="dev")
    assert _code(err) == "NoSuchEntity" and isinstance(err.value, iam.exceptions.NoSuchEntityException)
    # IAM's quota of two keys per user.
    iam.create_user(UserName="busy")
    iam.create_access_key(UserName="busy")
    iam.create_access_key(UserName="busy")
    with pytest.raises(ClientError) as err:
        iam.create_access_key(UserName="busy")
    assert _code(err) == "LimitExceeded"


def test_execution_roles_and_their_inline_policies_run_functions(aws_client: Any, components: Any) -> None:
    iam = aws_client("iam")
    role = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=TRUST)["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/worker"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    iam.get_waiter("role_exists").wait(RoleName="worker")
    iam.put_role_policy(RoleName="worker", PolicyName="queues", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}))
    iam.put_role_policy(RoleName="worker", PolicyName="invoke", PolicyDocument=INVOKE_ONLY)
    # A role `lamina admin put-role` wrote: its statements are one policy named "lamina", readable here too.
    iam_service.put_role(components, "000000000000", "legacy", [{"Action": ["lambda:GetFunction"], "Resource": ["*"]}])
    assert iam.list_role_policies(RoleName="legacy")["PolicyNames"] == ["lamina"]
    got = iam.get_role_policy(RoleName="legacy", PolicyName="lamina")["PolicyDocument"]
    assert got["Statement"][0]["Action"] == ["lambda:GetFunction"]
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["invoke", "queues"]
    # What functions with this role get: both policies' statements.
    statements = iam_service.get_role_statements(components, "000000000000", "worker")
    assert statements is not None and {a for s in statements for a in s["Action"]} == \
        {"sqs:SendMessage", "lambda:InvokeFunction"}
    assert "worker" in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    with pytest.raises(ClientError) as err:
        iam.delete_role(RoleName="worker")
    assert _code(err) == "DeleteConflict"
    iam.delete_role_policy(RoleName="worker", PolicyName="queues")
    iam.delete_role_policy(RoleName="worker", PolicyName="invoke")
    iam.delete_role(RoleName="worker")
    with pytest.raises(ClientError) as err:
        iam.get_role(RoleName="worker")
    assert _code(err) == "NoSuchEntity"


@pytest.mark.parametrize("call, code", [
    (lambda iam: iam.create_user(UserName="bad name"), "ValidationError"),
    (lambda iam: iam.create_user(UserName="pathy", Path="/team/"), "InvalidInput"),
    (lambda iam: iam.create_role(RoleName="r", AssumeRolePolicyDocument="{"), "MalformedPolicyDocument"),
    (lambda iam: iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]})), "MalformedPolicyDocument"),
    (lambda iam: iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
                        "Action": "sts:AssumeRole"}]})), "MalformedPolicyDocument"),
    (lambda iam: iam.get_user(UserName="a\x00b"), "InvalidInput"),
    (lambda iam: iam.get_role(RoleName="x" * 65), "ValidationError"),
    (lambda iam: iam.delete_access_key(AccessKeyId="lowercase-and-dashes"), "ValidationError"),
    (lambda iam: iam.put_user_policy(UserName="admin", PolicyName="p", PolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})), "MalformedPolicyDocument"),
    (lambda iam: iam.put_user_policy(UserName="admin", PolicyName="p", PolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]})), "MalformedPolicyDocument"),
    (lambda iam: iam.attach_user_policy(UserName="admin", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"),
     "NoSuchEntity"),
    (lambda iam: iam.update_access_key(AccessKeyId="LKIAAAAAAAAAAAAAAAAA", Status="Active"), "NoSuchEntity"),
    (lambda iam: iam.get_role(RoleName="nobody"), "NoSuchEntity"),
    (lambda iam: iam.create_group(GroupName="g"), "InvalidAction"),
])
def test_bad_iam_requests_get_iams_own_codes(aws_client: Any, call: Any, code: str) -> None:
    with pytest.raises(ClientError) as err:
        call(aws_client("iam"))
    assert _code(err) == code, err.value.response
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500


def test_the_iam_client_must_sign_for_iam(live_server: Any, credentials: Any) -> None:
    # SigV4 scopes a signature to one service: one made for lambda is refused here.
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import requests

    req = botocore.awsrequest.AWSRequest(method="POST", url=live_server.url + "/",
                                         data="Action=ListUsers&Version=2010-05-08",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    creds = botocore.credentials.Credentials(credentials.access_key_id, credentials.secret_access_key)
    botocore.auth.SigV4Auth(creds, "lambda", "us-east-1").add_auth(req)
    resp = requests.post(req.url, data=req.body, headers=dict(req.headers), timeout=10)
    assert resp.status_code == 403 and "<Code>" in resp.text and "iam" in resp.text


def test_accounts_are_created_by_the_platforms_administrators_only(client: Any, app: Any, live_server: Any) -> None:
    made = client.post("/lamina/v1/accounts", json={"AccountName": "team-c", "AdminUserName": "lead"})
    assert made.status_code == 201, made.get_data(as_text=True)
    doc = made.get_json()
    assert len(doc["AccountId"]) == 12 and doc["AdminUserName"] == "lead"
    listed = client.get("/lamina/v1/accounts").get_json()["Accounts"]
    assert {"AccountId": doc["AccountId"], "AccountName": "team-c"} in listed
    # The new account's administrator manages its own account with IAM, but creates no accounts.
    theirs = _client(live_server.url, "iam", doc["AccessKeyId"], doc["SecretAccessKey"])
    assert theirs.create_user(UserName="member")["User"]["Arn"] == f"arn:aws:iam::{doc['AccountId']}:user/member"
    assert [u["UserName"] for u in theirs.list_users()["Users"]] == ["lead", "member"]
    from lamina.services.iam.iam import Credentials
    from support.auth import client_for

    lead = client_for(app, Credentials(doc["AccountId"], "lead", doc["AccessKeyId"], doc["SecretAccessKey"]))
    refused = lead.post("/lamina/v1/accounts", json={"AccountName": "sneaky"})
    assert refused.status_code == 403
    assert client.post("/lamina/v1/accounts", json={"AccountName": "team-c"}).status_code == 409
    for bad in ({}, {"AccountName": 3}, {"AccountName": "x y"}, {"AccountName": "ok", "Extra": 1}):
        resp = client.post("/lamina/v1/accounts", json=bad)
        assert resp.status_code == 400, (bad, resp.get_data(as_text=True))
