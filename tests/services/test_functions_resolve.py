"""resolve_for_invoke (the execution side's view of a function) and FunctionName parsing."""

from __future__ import annotations

import json

import pytest
from lamina.errors import InvalidParameterValueException, ResourceNotFoundException
from lamina.services import arns
from lamina.services.events import event_invoke
from lamina.services.functions import aliases, concurrency, functions, layers, versions
from lamina.services.records import CodeInput, ConfigInput, CreateFunctionInput, EventInvokeInput, LayerVersionInput
from support.lambda_api import ROLE, fn_arn, make_zip

ACCOUNT = "000000000000"


@pytest.fixture
def fn(components):
    lv = layers.publish_layer_version(components, ACCOUNT, "deps", LayerVersionInput(zip_file=make_zip({"p/x": "1"})))
    functions.create_function(components, ACCOUNT, CreateFunctionInput(
        name="res", code=CodeInput(zip_file=make_zip()), publish=True,
        config=ConfigInput(role=ROLE, runtime="python3.11", handler="app.handler", memory_size=256, timeout=7,
                           environment={"GREETING": "hi"}, layers=[lv.layer_version_arn]),
    ))
    functions.update_configuration(components, ACCOUNT, "res", ConfigInput(timeout=9))
    versions.publish_version(components, ACCOUNT, "res")
    aliases.create_alias(components, ACCOUNT, "res", "live", "1", routing={"2": 0.3})
    concurrency.put(components, ACCOUNT, "res", 5)
    event_invoke.put(components, ACCOUNT, "res", "live", EventInvokeInput(maximum_retry_attempts=0))
    return lv


def test_latest(components, fn):
    spec = functions.resolve_for_invoke(components.sessions, ACCOUNT, "res", None)
    assert spec["version"] == "$LATEST" and spec["timeout"] == 9 and spec["alias"] is None
    assert spec["function_arn"] == fn_arn("res") and spec["qualified_arn"] == fn_arn("res", "$LATEST")
    assert spec["runtime"] == "python3.11" and spec["handler"] == "app.handler" and spec["package_type"] == "Zip"
    assert spec["memory_size"] == 256 and spec["environment"] == {"GREETING": "hi"}
    assert spec["layers"] == [{"arn": fn.layer_version_arn, "code_key": fn.code_key, "code_sha256": fn.code_sha256}]
    assert components.code_store.exists(spec["code_key"])
    assert spec["reserved_concurrency"] == 5 and spec["event_invoke_config"] is None
    json.dumps(spec)  # the invoke path caches it as JSON


def test_version_and_alias(components, fn):
    v1 = functions.resolve_for_invoke(components.sessions, ACCOUNT, fn_arn("res", "1"), None)
    assert v1["version"] == "1" and v1["timeout"] == 7
    live = functions.resolve_for_invoke(components.sessions, ACCOUNT, "res", "live")
    assert live["version"] == "1" and live["alias"] == "live" and live["routing"] == {"2": 0.3}
    assert live["invoked_arn"] == fn_arn("res", "live")
    assert live["event_invoke_config"] == {"maximum_retry_attempts": 0, "maximum_event_age_s": None,
                                           "on_success": None, "on_failure": None}
    assert live["revision_id"] == v1["revision_id"]


@pytest.mark.parametrize("name, qualifier", [("nope", None), ("res", "9"), ("res", "missing"),
                                             (fn_arn("res").replace("000000000000", "111111111111"), None)])
def test_unknown_is_not_found(components, fn, name, qualifier):
    with pytest.raises(ResourceNotFoundException):
        functions.resolve_for_invoke(components.sessions, ACCOUNT, name, qualifier)


@pytest.mark.parametrize("value, qualifier, expected", [
    ("my-fn", None, ("my-fn", None)),
    ("my-fn:prod", None, ("my-fn", "prod")),
    ("my-fn", "3", ("my-fn", "3")),
    ("my-fn:3", "3", ("my-fn", "3")),
    ("000000000000:function:my-fn", None, ("my-fn", None)),
    ("000000000000:function:my-fn:$LATEST", None, ("my-fn", "$LATEST")),
    ("arn:aws:lambda:us-east-1:000000000000:function:my-fn", None, ("my-fn", None)),
    ("arn:aws:lambda:us-east-1:000000000000:function:my-fn:live", None, ("my-fn", "live")),
])
def test_function_name_forms(value, qualifier, expected):
    ref = arns.parse_function_name(value, "us-east-1", ACCOUNT, qualifier)
    assert (ref.name, ref.qualifier) == expected


@pytest.mark.parametrize("value, qualifier, error", [
    ("", None, InvalidParameterValueException),
    ("a" * 65, None, InvalidParameterValueException),
    ("bad name", None, InvalidParameterValueException),
    ("my-fn:1", "2", InvalidParameterValueException),
    ("my-fn", "bad qualifier", InvalidParameterValueException),
    ("arn:aws:lambda:eu-west-1:000000000000:function:my-fn", None, ResourceNotFoundException),
    ("111111111111:function:my-fn", None, ResourceNotFoundException),
])
def test_bad_function_names(value, qualifier, error):
    with pytest.raises(error):
        arns.parse_function_name(value, "us-east-1", ACCOUNT, qualifier)
