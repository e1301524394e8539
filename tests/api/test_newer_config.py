"""LoggingConfig, TenancyConfig and the recursion setting through boto3 (issue 16): Lambda's shapes, the
merge rules of an update, and every bad value refused with Lambda's error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from support.lambda_api import ROLE, make_zip


def _create(lam: Any, name: str, **extra: Any) -> dict[str, Any]:
    return dict(lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                    Code={"ZipFile": make_zip()}, **extra))


def _refused(call: Callable[[], Any], code: str = "InvalidParameterValueException") -> str:
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] == code, err.value.response
    return str(err.value.response["Error"]["Message"])


def test_logging_config_is_kept_merged_and_checked(lambda_client: Any) -> None:
    lam = lambda_client
    assert _create(lam, "plain")["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}
    got = _create(lam, "jsonlog", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN",
                                                  "LogGroup": "/shared/team-a"})
    assert got["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO",
                                    "LogGroup": "/shared/team-a"}
    # An update merges: a level alone keeps the format and the group.
    got = lam.update_function_configuration(FunctionName="jsonlog", LoggingConfig={"SystemLogLevel": "WARN"})
    assert got["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "WARN",
                                    "LogGroup": "/shared/team-a"}
    lam.get_waiter("function_updated_v2").wait(FunctionName="jsonlog")
    # Back to Text: the levels go (they belong to JSON); the group stays.
    got = lam.update_function_configuration(FunctionName="jsonlog", LoggingConfig={"LogFormat": "Text"})
    assert got["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/shared/team-a"}
    assert lam.get_function(FunctionName="jsonlog")["Configuration"]["LoggingConfig"] == got["LoggingConfig"]
    # A published version keeps what it was published with.
    lam.update_function_configuration(FunctionName="jsonlog", LoggingConfig={"LogFormat": "JSON"})
    lam.get_waiter("function_updated_v2").wait(FunctionName="jsonlog")
    version = lam.publish_version(FunctionName="jsonlog")["Version"]
    lam.update_function_configuration(FunctionName="jsonlog", LoggingConfig={"LogFormat": "Text"})
    assert lam.get_function_configuration(FunctionName="jsonlog", Qualifier=version)["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": "/shared/team-a"}

    assert "only be set when LogFormat is JSON" in _refused(lambda: lam.update_function_configuration(
        FunctionName="plain", LoggingConfig={"ApplicationLogLevel": "ERROR"}))
    assert "enum value set" in _refused(lambda: _create(lam, "bad1", LoggingConfig={"LogFormat": "XML"}))
    assert "enum value set" in _refused(lambda: _create(
        lam, "bad2", LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "ERROR"}))
    assert "regular expression" in _refused(lambda: _create(lam, "bad3", LoggingConfig={"LogGroup": "no spaces"}))
    for name in ("bad1", "bad2", "bad3"):
        _refused(lambda: lam.get_function(FunctionName=name), "ResourceNotFoundException")  # noqa: B023


def test_tenancy_config_is_set_at_creation_only_and_refuses_what_names_no_tenant(
    lambda_client: Any, client: Any,
) -> None:
    lam = lambda_client
    got = _create(lam, "tenanted", TenancyConfig={"TenantIsolationMode": "PER_TENANT"})
    assert got["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    assert "TenancyConfig" not in _create(lam, "shared")
    version = lam.publish_version(FunctionName="tenanted")["Version"]
    assert lam.get_function_configuration(FunctionName="tenanted", Qualifier=version)["TenancyConfig"] == {
        "TenantIsolationMode": "PER_TENANT"}
    # botocore has no TenancyConfig for an update; past it, lamina refuses it by name.
    resp = client.put("/2015-03-31/functions/tenanted/configuration",
                      json={"TenancyConfig": {"TenantIsolationMode": "PER_TENANT"}})
    assert resp.status_code == 400 and resp.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"
    assert "TenancyConfig" in resp.get_json()["message"]
    resp = client.post("/2015-03-31/functions", json={
        "FunctionName": "badmode", "Role": ROLE, "Runtime": "python3.11", "Handler": "app.handler",
        "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}, "TenancyConfig": {"TenantIsolationMode": "SHARED"}})
    assert resp.status_code == 400 and "PER_TENANT" in resp.get_json()["message"]

    lam.create_alias(FunctionName="tenanted", Name="live", FunctionVersion=version)
    assert "tenant isolation" in _refused(lambda: lam.put_provisioned_concurrency_config(
        FunctionName="tenanted", Qualifier="live", ProvisionedConcurrentExecutions=1))
    assert "tenant isolation" in _refused(lambda: lam.create_function_url_config(
        FunctionName="tenanted", AuthType="NONE"))
    assert client.post("/lamina/v1/queues", json={"QueueName": "tq"}).status_code == 201
    assert "tenant isolation" in _refused(lambda: lam.create_event_source_mapping(
        FunctionName="tenanted", EventSourceArn="arn:aws:sqs:us-east-1:000000000000:tq"))

    # Invokes that need no environment still follow the tenant rule.
    _refused(lambda: lam.invoke(FunctionName="tenanted", InvocationType="DryRun"))
    assert lam.invoke(FunctionName="tenanted", InvocationType="DryRun", TenantId="a")["StatusCode"] == 204
    assert "not enabled with tenancy" in _refused(lambda: lam.invoke(
        FunctionName="shared", InvocationType="Event", TenantId="a"))
    assert "regular expression" in _refused(lambda: lam.invoke(
        FunctionName="tenanted", InvocationType="DryRun", TenantId="bad\ttenant"))
    assert "length" in _refused(lambda: lam.invoke(
        FunctionName="tenanted", InvocationType="DryRun", TenantId="x" * 257))


def test_recursion_config_defaults_to_terminate_and_takes_allow(lambda_client: Any) -> None:
    lam = lambda_client
    _create(lam, "looping")
    assert lam.get_function_recursion_config(FunctionName="looping")["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName="looping", RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName="looping")["RecursiveLoop"] == "Allow"
    assert "enum value set" in _refused(lambda: lam.put_function_recursion_config(
        FunctionName="looping", RecursiveLoop="Sometimes"))
    _refused(lambda: lam.get_function_recursion_config(FunctionName="nope"), "ResourceNotFoundException")
    _refused(lambda: lam.put_function_recursion_config(FunctionName="looping:1", RecursiveLoop="Allow"))
