"""Tenancy: another account's key sees nothing of ours, and a missing resource looks the same."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.auth import client_for
from support.lambda_api import assert_error, create, fn_arn

FUNCTIONS = "/2015-03-31/functions"


def test_another_accounts_key_cannot_see_or_touch_our_functions(client: Any, app: Any, boto_for: Any,
                                                                 other_credentials: Any) -> None:
    create(client, "ours")
    theirs = boto_for(other_credentials.access_key_id, other_credentials.secret_access_key)
    assert theirs.list_functions()["Functions"] == []
    errors = {}
    for name in (fn_arn("ours"), fn_arn("missing")):
        with pytest.raises(ClientError) as err:
            theirs.get_function(FunctionName=name)
        errors[name] = err.value.response
    found, missing = errors[fn_arn("ours")], errors[fn_arn("missing")]
    # Exactly as for a function that does not exist: same status, type and message form.
    assert found["Error"]["Code"] == missing["Error"]["Code"] == "ResourceNotFoundException"
    assert found["ResponseMetadata"]["HTTPStatusCode"] == missing["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert found["Error"]["Message"].replace("ours", "X") == missing["Error"]["Message"].replace("missing", "X")
    with pytest.raises(ClientError):
        theirs.delete_function(FunctionName=fn_arn("ours"))
    with pytest.raises(ClientError):
        theirs.invoke(FunctionName=fn_arn("ours"))
    # Their own function of the same name lives in their account, with their account id in its ARN.
    other = client_for(app, other_credentials)
    made = create(other, "ours")
    assert made["FunctionArn"] == "arn:aws:lambda:us-east-1:222222222222:function:ours"
    assert client.get(f"{FUNCTIONS}/ours").get_json()["Configuration"]["FunctionArn"] == fn_arn("ours")
    assert [f["FunctionName"] for f in theirs.list_functions()["Functions"]] == ["ours"]


def test_tags_and_policies_of_another_account_answer_not_found(client: Any, app: Any, other_credentials: Any) -> None:
    create(client, "tagged")
    other = client_for(app, other_credentials)
    from urllib.parse import quote

    arn = quote(fn_arn("tagged"), safe="")
    assert_error(other.get(f"/2017-03-31/tags/{arn}"), 404, "ResourceNotFoundException")
    assert_error(other.get(f"{FUNCTIONS}/{arn}/policy"), 404, "ResourceNotFoundException")
    assert_error(other.post(f"{FUNCTIONS}/{arn}/policy", json={"StatementId": "s", "Action": "lambda:*",
                                                               "Principal": "222222222222"}),
                 404, "ResourceNotFoundException")


def test_invoke_async_of_another_account_answers_not_found(client: Any, app: Any, other_credentials: Any) -> None:
    create(client, "asyncfn")
    other = client_for(app, other_credentials)
    resp = other.post(f"/2014-11-13/functions/{fn_arn('asyncfn').replace(':', '%3A')}/invoke-async", data=b"{}")
    assert_error(resp, 404, "ResourceNotFoundException")
    resp = other.post("/2014-11-13/functions/asyncfn/invoke-async", data=b"{}")
    assert_error(resp, 404, "ResourceNotFoundException")
