"""Provisioned concurrency (issue 14), through boto3: Lambda's shapes and errors, environments initialized
ahead (AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency) that are never frozen or reaped, replaced
when they die, spillover to on-demand beyond them, the limits they count against, and a failed init."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import docker
import pytest
from botocore.exceptions import ClientError
from lamina.scheduler.reaper import Reaper
from lamina.services.invoke.invocations import Invoker
from support.lambda_api import ROLE, make_zip

CODE = """
import os, time
INIT_AT = time.time()


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "init_at": INIT_AT, "at": time.time()}
"""
BROKEN = "raise RuntimeError('no init for you')\n"


def _function(lam: Any, name: str, code: str = CODE) -> str:
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": code})}, Timeout=10)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return str(lam.publish_version(FunctionName=name)["Version"])


def _error(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as err:
        call()
    return str(err.value.response["Error"]["Code"])


def _wait_status(lam: Any, name: str, qualifier: str, status: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        got = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if got["Status"] == status:
            return got
        time.sleep(0.2)
    raise AssertionError(f"still {got} after {timeout} s")


def _invoke(lam: Any, name: str, qualifier: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    out = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=json.dumps(event or {}).encode())
    assert "FunctionError" not in out, out["Payload"].read()
    return dict(json.loads(out["Payload"].read()))


def test_provisioned_environments_are_ready_ahead_kept_replaced_and_spill_over(
    lambda_client: Any, invoker: Invoker, reaper_for: Callable[..., Reaper], docker_client: docker.DockerClient,
    client: Any,
) -> None:
    lam = lambda_client
    version = _function(lam, "warmed")
    lam.create_alias(FunctionName="warmed", Name="live", FunctionVersion=version)
    invalid = "InvalidParameterValueException"
    assert _error(lambda: lam.put_provisioned_concurrency_config(
        FunctionName="warmed", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)) == invalid
    assert _error(lambda: lam.get_provisioned_concurrency_config(FunctionName="warmed", Qualifier="live")) == \
        "ProvisionedConcurrencyConfigNotFoundException"
    assert _error(lambda: lam.put_provisioned_concurrency_config(
        FunctionName="warmed", Qualifier="nope", ProvisionedConcurrentExecutions=1)) == "ResourceNotFoundException"
    # boto3 itself refuses 0; past it, lamina answers in Lambda's shape.
    zero = client.put("/2019-09-30/functions/warmed/provisioned-concurrency?Qualifier=live",
                      json={"ProvisionedConcurrentExecutions": 0})
    assert zero.status_code == 400 and zero.headers["X-Amzn-ErrorType"] == invalid, zero.get_data(as_text=True)
    assert client.put("/2019-09-30/functions/warmed/provisioned-concurrency?Qualifier=live",
                      json={"ProvisionedConcurrentExecutions": "2"}).status_code == 400
    put = lam.put_provisioned_concurrency_config(FunctionName="warmed", Qualifier="live",
                                                 ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2 and put["Status"] in ("IN_PROGRESS", "READY")
    # The alias's version takes no second configuration.
    assert _error(lambda: lam.put_provisioned_concurrency_config(
        FunctionName="warmed", Qualifier=version, ProvisionedConcurrentExecutions=1)) == "ResourceConflictException"
    ready = _wait_status(lam, "warmed", "live", "READY")
    assert ready["AllocatedProvisionedConcurrentExecutions"] == ready["AvailableProvisionedConcurrentExecutions"] == 2
    envs = [e for e in invoker.pool.snapshot().envs if e.function_name == "warmed"]
    assert len(envs) == 2 and all(e.provisioned and e.state.value == "warm" for e in envs), envs

    # Initialized ahead: the handler's module ran before this invoke was sent.
    sent = time.time()
    first = _invoke(lam, "warmed", "live")
    assert first["init"] == "provisioned-concurrency" and first["init_at"] < sent, first
    # Never frozen nor reaped while configured, however idle.
    reaper_for(freeze_after_s=0.0, idle_timeout_s=0.0).tick()
    assert {e.state.value for e in invoker.pool.snapshot().envs if e.function_name == "warmed"} == {"warm"}

    # Three at once: two on the provisioned environments, the third spills over to an on-demand one.
    answers: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: answers.append(_invoke(lam, "warmed", "live", {"sleep": 1.0})))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a["init"] for a in answers) == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'lamina_provisioned_invocations_total{account="' in metrics and 'on="spillover"} 1.0' in metrics, metrics
    assert 'lamina_provisioned_concurrency_allocated{' in metrics

    # One dies: the sweep forgets it, the next provisioning round replaces it.
    dead = next(e.container_id for e in invoker.pool.snapshot().envs if e.function_name == "warmed" and e.provisioned)
    docker_client.api.remove_container(dead, force=True)
    reaper_for().sweep()
    assert invoker.provision(invoker.settings.account_id, "warmed", "live", 2) == 1
    assert _wait_status(lam, "warmed", "live", "READY")["AvailableProvisionedConcurrentExecutions"] == 2

    # Metered for chargeback: the kept environments' memory over the time between two keeper rounds.
    time.sleep(1.0)
    invoker.provision(invoker.settings.account_id, "warmed", "live", 2)
    kept = [r for r in client.get("/lamina/v1/usage?FunctionName=warmed&Granularity=TOTAL").get_json()["Usage"]
            if r["Qualifier"] == "live"]
    assert kept and kept[0]["ProvisionedGBSeconds"] > 0 and kept[0]["Cost"] > 0, kept

    listed = list(lam.get_paginator("list_provisioned_concurrency_configs").paginate(FunctionName="warmed"))
    configs = [c for page in listed for c in page["ProvisionedConcurrencyConfigs"]]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in configs] == ["live"]

    lam.delete_provisioned_concurrency_config(FunctionName="warmed", Qualifier="live")
    assert _error(lambda: lam.get_provisioned_concurrency_config(FunctionName="warmed", Qualifier="live")) == \
        "ProvisionedConcurrencyConfigNotFoundException"
    deadline = time.monotonic() + 10
    while any(e.provisioned for e in invoker.pool.snapshot().envs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(e.provisioned for e in invoker.pool.snapshot().envs)


def test_provisioned_concurrency_counts_against_reserved_and_reports_a_failed_init(
    lambda_client: Any, invoker: Invoker,
) -> None:
    lam = lambda_client
    version = _function(lam, "capped")
    lam.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=2)
    assert _error(lambda: lam.put_provisioned_concurrency_config(
        FunctionName="capped", Qualifier=version, ProvisionedConcurrentExecutions=3)) == \
        "InvalidParameterValueException"
    broken = _function(lam, "broken", BROKEN)
    lam.put_provisioned_concurrency_config(FunctionName="broken", Qualifier=broken, ProvisionedConcurrentExecutions=1)
    failed = _wait_status(lam, "broken", broken, "FAILED")
    assert failed["StatusReason"].startswith("FUNCTION_ERROR_INIT_FAILURE"), failed
    assert not [e for e in invoker.pool.snapshot().envs if e.function_name == "broken"]
