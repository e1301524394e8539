"""boto3's own lambda client against a live lamina server: every control-plane operation, parsed."""

from __future__ import annotations

import base64
import hashlib
import urllib.request
from datetime import datetime

import pytest
from support.lambda_api import ROLE, fn_arn, make_zip

LAYER_ARN = "arn:aws:lambda:us-east-1:000000000000:layer:"


def _create(client, name, **extra):
    kwargs = {"FunctionName": name, "Role": ROLE, "Runtime": "python3.11", "Handler": "app.handler",
              "Code": {"ZipFile": make_zip()}}
    kwargs.update(extra)
    return client.create_function(**kwargs)


def test_function_lifecycle(lambda_client):
    zipped = make_zip({"app.py": "def handler(e, c):\n    return 1\n"})
    created = _create(lambda_client, "boto", Code={"ZipFile": zipped}, MemorySize=256,
                      Environment={"Variables": {"KEY": "v"}}, Tags={"team": "x"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert created["State"] == "Active" and created["LastUpdateStatus"] == "Successful"
    assert datetime.strptime(created["LastModified"], "%Y-%m-%dT%H:%M:%S.%f%z")
    lambda_client.get_waiter("function_active_v2").wait(FunctionName="boto")

    got = lambda_client.get_function(FunctionName=fn_arn("boto"))
    assert got["Configuration"]["MemorySize"] == 256 and got["Tags"] == {"team": "x"}
    with urllib.request.urlopen(got["Code"]["Location"]) as resp:
        assert resp.read() == zipped
    cfg = lambda_client.get_function_configuration(FunctionName="boto", Qualifier="$LATEST")
    assert cfg["Environment"]["Variables"] == {"KEY": "v"}

    updated = lambda_client.update_function_configuration(FunctionName="boto", Timeout=30,
                                                          RevisionId=cfg["RevisionId"])
    assert updated["Timeout"] == 30
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName="boto")
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException):
        lambda_client.update_function_configuration(FunctionName="boto", Timeout=31, RevisionId=cfg["RevisionId"])
    new_code = lambda_client.update_function_code(FunctionName="boto", ZipFile=make_zip({"app.py": "# 2\n"}),
                                                  Publish=True)
    assert new_code["Version"] == "1"

    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        _create(lambda_client, "boto")
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        _create(lambda_client, "bad-mem", MemorySize=20000)
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        _create(lambda_client, "bad-zip", Code={"ZipFile": b"not a zip"})

    lambda_client.delete_function(FunctionName="boto")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName="boto")


def test_list_functions_paginates(lambda_client):
    for i in range(5):
        _create(lambda_client, f"page{i}")
    paginator = lambda_client.get_paginator("list_functions")
    names = [f["FunctionName"] for page in paginator.paginate(PaginationConfig={"PageSize": 2}) for f in
             page["Functions"]]
    assert names == [f"page{i}" for i in range(5)]
    _create(lambda_client, "withv", Publish=True)
    every = lambda_client.list_functions(FunctionVersion="ALL")["Functions"]
    assert fn_arn("withv", "1") in [f["FunctionArn"] for f in every]


def test_image_function(lambda_client):
    created = lambda_client.create_function(FunctionName="img", Role=ROLE, PackageType="Image",
                                            Code={"ImageUri": "lamina-test/awslambdaric:latest"})
    assert created["PackageType"] == "Image"
    got = lambda_client.get_function(FunctionName="img")
    assert got["Code"]["RepositoryType"] == "ECR" and got["Code"]["ImageUri"] == "lamina-test/awslambdaric:latest"


def test_versions_and_aliases(lambda_client):
    _create(lambda_client, "va")
    v1 = lambda_client.publish_version(FunctionName="va", Description="first")
    assert v1["Version"] == "1"
    assert lambda_client.publish_version(FunctionName="va")["Version"] == "1"
    lambda_client.update_function_configuration(FunctionName="va", MemorySize=512)
    assert lambda_client.publish_version(FunctionName="va")["Version"] == "2"
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.publish_version(FunctionName="va", CodeSha256="wrong")
    versions = lambda_client.list_versions_by_function(FunctionName="va")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]

    alias = lambda_client.create_alias(FunctionName="va", Name="live", FunctionVersion="1",
                                       RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert alias["AliasArn"] == fn_arn("va", "live")
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.5}
    assert lambda_client.get_alias(FunctionName="va", Name="live")["FunctionVersion"] == "1"
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.delete_function(FunctionName="va", Qualifier="2")
    updated = lambda_client.update_alias(FunctionName="va", Name="live", FunctionVersion="2",
                                         RoutingConfig={"AdditionalVersionWeights": {}},
                                         RevisionId=alias["RevisionId"])
    assert updated["FunctionVersion"] == "2"
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException):
        lambda_client.update_alias(FunctionName="va", Name="live", RevisionId=alias["RevisionId"])
    assert [a["Name"] for a in lambda_client.list_aliases(FunctionName="va")["Aliases"]] == ["live"]
    lambda_client.delete_function(FunctionName="va", Qualifier="1")
    lambda_client.delete_alias(FunctionName="va", Name="live")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_alias(FunctionName="va", Name="live")


def test_layers(lambda_client):
    published = lambda_client.publish_layer_version(LayerName="shared", Content={"ZipFile": make_zip()},
                                                    CompatibleRuntimes=["python3.11"], Description="d")
    assert published["Version"] == 1 and published["LayerVersionArn"] == LAYER_ARN + "shared:1"
    assert lambda_client.get_layer_version(LayerName="shared", VersionNumber=1)["Description"] == "d"
    by_arn = lambda_client.get_layer_version_by_arn(Arn=published["LayerVersionArn"])
    assert by_arn["Content"]["CodeSha256"] == published["Content"]["CodeSha256"]
    layers = lambda_client.list_layers(CompatibleRuntime="python3.11")["Layers"]
    assert [layer["LayerName"] for layer in layers] == ["shared"]
    assert lambda_client.list_layer_versions(LayerName="shared")["LayerVersions"][0]["Version"] == 1
    _create(lambda_client, "layered", Layers=[published["LayerVersionArn"]])
    assert lambda_client.get_function_configuration(FunctionName="layered")["Layers"][0]["Arn"] == \
        published["LayerVersionArn"]
    lambda_client.delete_layer_version(LayerName="shared", VersionNumber=1)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_layer_version(LayerName="shared", VersionNumber=1)


def test_tags_concurrency_event_invoke_and_account(lambda_client):
    arn = _create(lambda_client, "misc")["FunctionArn"]
    lambda_client.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lambda_client.untag_resource(Resource=arn, TagKeys=["a"])
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"b": "2"}

    assert lambda_client.put_function_concurrency(FunctionName="misc", ReservedConcurrentExecutions=7)[
        "ReservedConcurrentExecutions"] == 7
    assert lambda_client.get_function_concurrency(FunctionName="misc")["ReservedConcurrentExecutions"] == 7
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.put_function_concurrency(FunctionName="misc", ReservedConcurrentExecutions=950)
    lambda_client.delete_function_concurrency(FunctionName="misc")
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(FunctionName="misc")

    dest = "arn:aws:sqs:us-east-1:000000000000:dlq"
    put = lambda_client.put_function_event_invoke_config(
        FunctionName="misc", MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": dest}})
    assert isinstance(put["LastModified"], datetime)
    assert put["DestinationConfig"]["OnFailure"]["Destination"] == dest
    upd = lambda_client.update_function_event_invoke_config(FunctionName="misc", MaximumEventAgeInSeconds=120)
    assert upd["MaximumRetryAttempts"] == 1 and upd["MaximumEventAgeInSeconds"] == 120
    assert lambda_client.get_function_event_invoke_config(FunctionName="misc")["MaximumEventAgeInSeconds"] == 120
    listed = lambda_client.list_function_event_invoke_configs(FunctionName="misc")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [fn_arn("misc", "$LATEST")]
    lambda_client.delete_function_event_invoke_config(FunctionName="misc")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function_event_invoke_config(FunctionName="misc")

    settings = lambda_client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] == 1


def test_errors_carry_lambda_codes(lambda_client):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as err:
        lambda_client.get_function_configuration(FunctionName="ghost")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "ghost" in err.value.response["Error"]["Message"]
    assert err.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        _create(lambda_client, "bad-runtime", Runtime="cobol")
