"""API client commands: deploy, functions, publish, alias, layers."""

from __future__ import annotations

import base64
import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lamina.cli.client import ApiError, LaminaClient, quote
from lamina.cli.output import emit

FUNCTION_COLUMNS = [("NAME", "FunctionName"), ("RUNTIME", "Runtime"), ("HANDLER", "Handler"),
                    ("MEMORY", "MemorySize"), ("TIMEOUT", "Timeout"), ("VERSION", "Version"),
                    ("LAST MODIFIED", "LastModified")]
DEFAULT_ROLE = "arn:aws:iam::000000000000:role/lamina-default"


def api_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--endpoint, --token and --json, shared by every command that talks to the API."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)
    fn = click.option("--token", envvar="LAMINA_TOKEN", default=None, help="Bearer token (LAMINA_TOKEN).")(fn)
    fn = click.option("--endpoint", envvar="LAMINA_ENDPOINT", default="http://127.0.0.1:9000", show_default=True,
                      help="lamina API URL (LAMINA_ENDPOINT).")(fn)
    return fn


def zip_directory(directory: Path) -> bytes:
    """Zip ``directory`` deterministically (sorted, fixed timestamps) keeping executable bits."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            rel = path.relative_to(directory).as_posix()
            if rel.startswith(".git/") or "__pycache__" in rel:
                continue
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (os.stat(path).st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Function name.")
@click.option("--runtime", default=None, help="python3.11, nodejs18.x, provided.al2023 ...")
@click.option("--handler", default=None, help="e.g. app.handler")
@click.option("--memory", type=int, default=None, help="MemorySize in MB.")
@click.option("--timeout", type=int, default=None, help="Timeout in seconds.")
@click.option("--env", "env_pairs", multiple=True, help="KEY=VALUE environment variable (repeatable).")
@click.option("--layer", "layers", multiple=True, help="Layer version ARN (repeatable).")
@click.option("--role", default=DEFAULT_ROLE, show_default=True)
@click.option("--publish", is_flag=True, help="Publish a version after deploying.")
@click.option("--log-format", type=click.Choice(["Text", "JSON"]), default=None, help="LoggingConfig.LogFormat.")
@click.option("--log-level", default=None, help="LoggingConfig.ApplicationLogLevel (JSON): TRACE ... FATAL.")
@click.option("--system-log-level", default=None, help="LoggingConfig.SystemLogLevel (JSON): DEBUG, INFO, WARN.")
@click.option("--log-group", default=None, help="LoggingConfig.LogGroup (may be shared by several functions).")
@click.option("--tenant-isolation", is_flag=True, help="TenancyConfig PER_TENANT (at creation only).")
@click.option("--alias", default=None, help="Shift this alias to the new version (publishes one); see --strategy.")
@click.option("--strategy", default="all-at-once", show_default=True,
              help="With --alias: canary10-5m, linear10-1m, all-at-once (or CodeDeploy's names).")
@click.option("--max-error-rate", type=float, default=None, help="With --alias: roll back above this (default 0.05).")
@click.option("--max-p99-ms", type=float, default=None, help="With --alias: roll back when p99 passes this.")
@click.option("--wait", is_flag=True, help="With --alias: follow the deployment until it ends.")
@api_options
def deploy(directory: Path, name: str, runtime: str | None, handler: str | None, memory: int | None,
           timeout: int | None, env_pairs: tuple[str, ...], layers: tuple[str, ...], role: str, publish: bool,
           log_format: str | None, log_level: str | None, system_log_level: str | None, log_group: str | None,
           tenant_isolation: bool, alias: str | None, strategy: str, max_error_rate: float | None,
           max_p99_ms: float | None, wait: bool, endpoint: str, token: str | None, as_json: bool) -> None:
    """Zip DIRECTORY and create the function, or update its code and configuration.

    With --alias, publish a version and shift the alias to it by --strategy (a gradual deployment that
    rolls back by itself when the new version's error rate or p99 passes its limit).
    """
    if alias is None and (wait or max_error_rate is not None or max_p99_ms is not None or strategy != "all-at-once"):
        raise click.UsageError("--strategy, --max-error-rate, --max-p99-ms and --wait go with --alias")
    client = LaminaClient(endpoint, token)
    code = base64.b64encode(zip_directory(directory)).decode()
    config: dict[str, Any] = {"Role": role}
    for key, value in (("Runtime", runtime), ("Handler", handler), ("MemorySize", memory), ("Timeout", timeout)):
        if value is not None:
            config[key] = value
    if env_pairs:
        config["Environment"] = {"Variables": dict(_pair(p) for p in env_pairs)}
    if layers:
        config["Layers"] = list(layers)
    logging_config = {k: v for k, v in (("LogFormat", log_format), ("ApplicationLogLevel", log_level),
                                        ("SystemLogLevel", system_log_level), ("LogGroup", log_group)) if v}
    if logging_config:
        config["LoggingConfig"] = logging_config
    path = f"/2015-03-31/functions/{quote(name)}"
    try:
        client.json("GET", path + "/configuration")
        exists = True
    except ApiError as err:
        if err.status != 404:
            raise
        exists = False
    if not exists:
        if runtime is None or handler is None:
            raise click.UsageError("--runtime and --handler are needed to create a function")
        if tenant_isolation:
            config["TenancyConfig"] = {"TenantIsolationMode": "PER_TENANT"}
        result = client.json("POST", "/2015-03-31/functions",
                             {"FunctionName": name, "Code": {"ZipFile": code}, "Publish": publish, **config})
    elif tenant_isolation:
        raise click.UsageError("--tenant-isolation is set when a function is created; it cannot be changed")
    else:
        client.json("PUT", path + "/configuration", config)
        result = client.json("PUT", path + "/code", {"ZipFile": code, "Publish": publish})
    if alias is None:
        emit(result, as_json, FUNCTION_COLUMNS)
        return
    _shift_alias(client, name, alias, strategy, max_error_rate, max_p99_ms, wait, as_json)


DEPLOYMENT_COLUMNS = [("ID", "DeploymentId"), ("ALIAS", "Alias"), ("FROM", "FromVersion"), ("TO", "ToVersion"),
                      ("STRATEGY", "Strategy"), ("STATUS", "Status"), ("WEIGHT", "Weight"), ("REASON", "Reason")]


def _shift_alias(client: LaminaClient, name: str, alias: str, strategy: str, max_error_rate: float | None,
                 max_p99_ms: float | None, wait: bool, as_json: bool) -> None:
    import time

    path = f"/2015-03-31/functions/{quote(name)}"
    client.request("GET", path + "/configuration", query={"Qualifier": "$LATEST"})
    version = client.json("POST", path + "/versions", {})["Version"]
    try:
        client.json("GET", f"{path}/aliases/{quote(alias)}")
    except ApiError as err:
        if err.status != 404:
            raise
        made = client.json("POST", path + "/aliases", {"Name": alias, "FunctionVersion": version})
        emit({"Alias": alias, "FunctionVersion": version, "AliasArn": made["AliasArn"],
              "Status": "Created (nothing to shift from)"}, as_json)
        return
    body: dict[str, Any] = {"Alias": alias, "FunctionVersion": version, "Strategy": strategy}
    if max_error_rate is not None:
        body["MaxErrorRate"] = max_error_rate
    if max_p99_ms is not None:
        body["MaxP99Ms"] = max_p99_ms
    base = f"/lamina/v1/functions/{quote(name)}/deployments"
    doc = client.json("POST", base, body)
    if not wait:
        emit(doc, as_json, DEPLOYMENT_COLUMNS)
        return
    seen = 0
    while True:
        for step in doc["History"][seen:]:
            if not as_json:
                click.echo(f"{step['at']}  {step['event']:<10} version {doc['ToVersion']} at {step['weight']:.0%}"
                           + (f"  ({step['reason']})" if step.get("reason") else ""))
        seen = len(doc["History"])
        if doc["Status"] != "InProgress":
            break
        time.sleep(1.0)
        doc = client.json("GET", f"{base}/{doc['DeploymentId']}")
    if as_json:
        emit(doc, True)
    if doc["Status"] != "Succeeded":
        raise click.ClickException(f"deployment {doc['DeploymentId']} {doc['Status']}: {doc['Reason']}")


@click.group()
def deployments() -> None:
    """Gradual deployments of aliases: history, progress, stop (roll back)."""


@deployments.command("list")
@click.argument("function_name")
@api_options
def list_deployments(function_name: str, endpoint: str, token: str | None, as_json: bool) -> None:
    doc = LaminaClient(endpoint, token).json("GET", f"/lamina/v1/functions/{quote(function_name)}/deployments")
    emit(doc, as_json, DEPLOYMENT_COLUMNS, rows_key="Deployments")


@deployments.command("show")
@click.argument("function_name")
@click.argument("deployment_id")
@api_options
def show_deployment(function_name: str, deployment_id: str, endpoint: str, token: str | None, as_json: bool) -> None:
    doc = LaminaClient(endpoint, token).json(
        "GET", f"/lamina/v1/functions/{quote(function_name)}/deployments/{quote(deployment_id)}")
    emit(doc, as_json, DEPLOYMENT_COLUMNS)
    if not as_json:
        for step in doc["History"]:
            click.echo(f"  {step['at']}  {step['event']:<10} {step['weight']:.0%}  {step.get('reason', '')}")


@deployments.command("stop")
@click.argument("function_name")
@click.argument("deployment_id")
@api_options
def stop_deployment(function_name: str, deployment_id: str, endpoint: str, token: str | None, as_json: bool) -> None:
    """Stop a deployment in progress: all traffic back on the old version."""
    doc = LaminaClient(endpoint, token).json(
        "POST", f"/lamina/v1/functions/{quote(function_name)}/deployments/{quote(deployment_id)}/stop", {})
    emit(doc, as_json, DEPLOYMENT_COLUMNS)


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}")
    return key, value


@click.group()
def functions() -> None:
    """List, show and delete functions."""


@functions.command("list")
@click.option("--all-versions", is_flag=True, help="Include published versions.")
@api_options
def list_functions(all_versions: bool, endpoint: str, token: str | None, as_json: bool) -> None:
    client = LaminaClient(endpoint, token)
    items: list[dict[str, Any]] = []
    marker = None
    while True:
        page = client.json("GET", "/2015-03-31/functions",
                           query={"Marker": marker, "FunctionVersion": "ALL" if all_versions else None})
        items += page.get("Functions", [])
        marker = page.get("NextMarker")
        if not marker:
            break
    emit({"Functions": items}, as_json, FUNCTION_COLUMNS, rows_key="Functions")


@functions.command("get")
@click.argument("name")
@click.option("--qualifier", default=None)
@api_options
def get_function(name: str, qualifier: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    result = LaminaClient(endpoint, token).json("GET", f"/2015-03-31/functions/{quote(name)}",
                                                 query={"Qualifier": qualifier})
    emit(result if as_json else result.get("Configuration", {}), as_json)


@functions.command("isolation")
@click.argument("name")
@click.argument("mode", required=False, type=click.Choice(["container", "gvisor", "default"]))
@api_options
def function_isolation(name: str, mode: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    """Show the sandbox NAME runs in, or set it: container (runc), gvisor (runsc), or its account's default."""
    path = f"/lamina/v1/functions/{quote(name)}/isolation"
    client = LaminaClient(endpoint, token)
    if mode is None:
        emit(client.json("GET", path), as_json)
    else:
        emit(client.json("PUT", path, body={"Isolation": None if mode == "default" else mode}), as_json)


@functions.command("delete")
@click.argument("name")
@click.option("--qualifier", default=None, help="Delete only this version.")
@api_options
def delete_function(name: str, qualifier: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    LaminaClient(endpoint, token).request("DELETE", f"/2015-03-31/functions/{quote(name)}",
                                          query={"Qualifier": qualifier})
    emit({"Deleted": name if not qualifier else f"{name}:{qualifier}"}, as_json)


@click.command()
@click.argument("name")
@click.option("--description", default=None)
@api_options
def publish(name: str, description: str | None, endpoint: str, token: str | None, as_json: bool) -> None:
    """Publish the function's $LATEST as a new version."""
    body = {"Description": description} if description else {}
    result = LaminaClient(endpoint, token).json("POST", f"/2015-03-31/functions/{quote(name)}/versions", body)
    emit(result, as_json, FUNCTION_COLUMNS)


@click.group()
def alias() -> None:
    """Manage aliases."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name")
@click.argument("version")
@click.option("--weight", "weights", multiple=True, help="VERSION=WEIGHT for one additional version.")
@click.option("--description", default=None)
@api_options
def set_alias(name: str, alias_name: str, version: str, weights: tuple[str, ...], description: str | None,
              endpoint: str, token: str | None, as_json: bool) -> None:
    """Point ALIAS_NAME of function NAME at VERSION (creating the alias if needed)."""
    client = LaminaClient(endpoint, token)
    body: dict[str, Any] = {"FunctionVersion": version}
    if description is not None:
        body["Description"] = description
    if weights:
        routing: dict[str, float] = {}
        for w in weights:
            v, val = _pair(w)
            try:
                routing[v] = float(val)
            except ValueError:
                raise click.BadParameter(f"weight must be a number, got {val!r}") from None
        body["RoutingConfig"] = {"AdditionalVersionWeights": routing}
    base = f"/2015-03-31/functions/{quote(name)}/aliases"
    try:
        result = client.json("PUT", f"{base}/{quote(alias_name)}", body)
    except ApiError as err:
        if err.status != 404 or err.error_type != "ResourceNotFoundException":
            raise
        result = client.json("POST", base, {"Name": alias_name, **body})
    emit(result, as_json, [("ALIAS", "Name"), ("VERSION", "FunctionVersion"), ("ROUTING", "RoutingConfig"),
                           ("ARN", "AliasArn")])


@click.group()
def layers() -> None:
    """Publish and list layers."""


@layers.command("publish")
@click.argument("name")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--runtime", "runtimes", multiple=True, help="Compatible runtime (repeatable).")
@click.option("--description", default=None)
@api_options
def publish_layer(name: str, source: Path, runtimes: tuple[str, ...], description: str | None,
                  endpoint: str, token: str | None, as_json: bool) -> None:
    """Publish SOURCE (a directory, zipped for you, or a .zip file) as a new version of layer NAME."""
    data = zip_directory(source) if source.is_dir() else source.read_bytes()
    body: dict[str, Any] = {"Content": {"ZipFile": base64.b64encode(data).decode()}}
    if runtimes:
        body["CompatibleRuntimes"] = list(runtimes)
    if description:
        body["Description"] = description
    result = LaminaClient(endpoint, token).json("POST", f"/2018-10-31/layers/{quote(name)}/versions", body)
    emit(result, as_json, [("LAYER VERSION ARN", "LayerVersionArn"), ("VERSION", "Version"),
                           ("SIZE", "Content.CodeSize")])


@layers.command("list")
@api_options
def list_layers(endpoint: str, token: str | None, as_json: bool) -> None:
    result = LaminaClient(endpoint, token).json("GET", "/2018-10-31/layers")
    emit(result, as_json, [("NAME", "LayerName"), ("LATEST", "LatestMatchingVersion.Version"),
                           ("ARN", "LatestMatchingVersion.LayerVersionArn")], rows_key="Layers")
