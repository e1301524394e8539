"""Tenant isolation (issue 16) through boto3: a PER_TENANT function's environments each serve one tenant
(a module-level counter goes 1, 2, 1 for tenants a, a, b), the tenant id reaches the runtime and the logs,
invokes without one are refused, and per-tenant counters reach /metrics."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lamina.services.invoke.invocations import Invoker
from support.lambda_api import ROLE, make_zip

COUNTER = """
import os
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "tenant": context.tenant_id, "pid": os.getpid()}
"""
NODE = "let n = 0;\nexports.handler = async (e, context) => ({ count: ++n, tenant: context.tenantId });\n"


def _call(lam: Any, name: str, tenant: str | None, **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"FunctionName": name, **extra}
    if tenant is not None:
        args["TenantId"] = tenant
    out = lam.invoke(**args)
    assert "FunctionError" not in out
    return dict(json.loads(out["Payload"].read()), _out=out)


def test_each_tenant_gets_environments_of_its_own(lambda_client: Any, client: Any, invoker: Invoker) -> None:
    lam = lambda_client
    lam.create_function(FunctionName="per-tenant", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": COUNTER})},
                        TenancyConfig={"TenantIsolationMode": "PER_TENANT"},
                        LoggingConfig={"LogFormat": "JSON"})
    got = [(r["count"], r["tenant"]) for r in (_call(lam, "per-tenant", t) for t in ("a", "a", "b", "a", "b"))]
    assert got == [(1, "a"), (2, "a"), (1, "b"), (3, "a"), (2, "b")]
    out = _call(lam, "per-tenant", "tenant:with/odd=chars", LogType="Tail")
    assert (out["count"], out["tenant"]) == (1, "tenant:with/odd=chars")
    start = next(json.loads(line) for line in base64.b64decode(out["_out"]["LogResult"]).decode().splitlines()
                 if '"platform.start"' in line)
    assert start["record"]["tenantId"] == "tenant:with/odd=chars"

    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="per-tenant")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Add a valid tenant ID" in err.value.response["Error"]["Message"]

    lam.create_function(FunctionName="shared-node", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": make_zip({"index.js": NODE})})
    assert [_call(lam, "shared-node", None)["count"] for _ in range(3)] == [1, 2, 3]
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="shared-node", TenantId="a")
    assert "Remove the tenant ID" in err.value.response["Error"]["Message"]

    invoker.metrics.flush()
    text = client.get("/metrics").get_data(as_text=True)
    assert 'lamina_tenant_invocations_total{account="000000000000",function="per-tenant",tenant="a"} 3.0' in text
    assert 'lamina_tenant_invocations_total{account="000000000000",function="per-tenant",tenant="b"} 2.0' in text


def test_node_runtime_sees_the_tenant(lambda_client: Any, invoker: Invoker) -> None:
    lam = lambda_client
    lam.create_function(FunctionName="tenant-node", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": make_zip({"index.js": NODE})},
                        TenancyConfig={"TenantIsolationMode": "PER_TENANT"})
    got = [(r["count"], r["tenant"]) for r in (_call(lam, "tenant-node", t) for t in ("x", "y", "x"))]
    assert got == [(1, "x"), (1, "y"), (2, "x")]


def test_the_lamina_cli_deploys_and_invokes_per_tenant(live_server: Any, lambda_client: Any, invoker: Invoker,
                                                       tmp_path: Any) -> None:
    from click.testing import CliRunner
    from lamina.cli.main import cli

    (tmp_path / "app.py").write_text(COUNTER)
    runner = CliRunner()
    base = ["--endpoint", live_server.url]
    out = runner.invoke(cli, ["deploy", str(tmp_path), "--name", "cli-tenant", "--runtime", "python3.11",
                              "--handler", "app.handler", "--tenant-isolation", "--log-format", "JSON",
                              "--log-level", "WARN", "--log-group", "/teams/a", "--json", *base])
    assert out.exit_code == 0, out.output
    config = lambda_client.get_function_configuration(FunctionName="cli-tenant")
    assert config["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    assert config["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO",
                                       "LogGroup": "/teams/a"}
    counts = []
    for tenant in ("a", "a", "b"):
        got = runner.invoke(cli, ["invoke", "cli-tenant", "--tenant-id", tenant, *base])
        assert got.exit_code == 0, got.output
        counts.append(json.loads(got.output)["count"])
    assert counts == [1, 2, 1]
    refused = runner.invoke(cli, ["deploy", str(tmp_path), "--name", "cli-tenant", "--tenant-isolation", *base])
    assert refused.exit_code != 0 and "when a function is created" in refused.output
