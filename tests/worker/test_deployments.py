"""Gradual deployments of an alias (issue 18): traffic shifted step by step by a `lamina worker` in its own
process, rolled back by itself when the new version fails, stopped by hand or by someone changing the alias;
the CLI's `lamina deploy --alias --strategy --wait`; bad input refused by name."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lamina.cli.main import cli
from support.triggers import wait_for


def _app(tag: str, fail: bool = False) -> str:
    body = 'raise RuntimeError("broken release")' if fail else f"return {{'version': {tag!r}}}"
    return f"def handler(event, context):\n    {body}\n"


def _invoke(client: Any, name: str, qualifier: str = "live") -> tuple[str, bool]:
    resp = client.post(f"/2015-03-31/functions/{name}/invocations?Qualifier={qualifier}", data=b"{}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.headers.get("X-Amz-Executed-Version", ""), bool(resp.headers.get("X-Amz-Function-Error"))


def _setup(client: Any, fns: Any, name: str) -> None:
    fns.create(name, {"app.py": _app("one")})
    assert fns.publish_version(name) == "1"
    fns.create_alias(name, "live", "1")


def _deployment(client: Any, name: str, deployment_id: str) -> dict[str, Any]:
    return client.get(f"/lamina/v1/functions/{name}/deployments/{deployment_id}").get_json()


class Traffic:
    """Invokes the alias in a loop (as users would during a release); records the versions that answered."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client.application.test_client(), name
        self.seen: list[tuple[str, bool]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self.seen.append(_invoke(self.client, self.name))
                time.sleep(0.02)
        except BaseException as err:  # noqa: BLE001 - reported by __exit__ in the test's thread
            self.failure = err

    failure: BaseException | None = None

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        assert self.failure is None, f"an invoke of the alias failed during the deployment: {self.failure!r}"


def test_a_linear_deployment_shifts_step_by_step_and_ends_on_the_new_version(
        client: Any, fns: Any, worker_processes: Any) -> None:
    _setup(client, fns, "steady")
    fns.update_code("steady", {"app.py": _app("two")})
    worker = worker_processes()
    with Traffic(client, "steady") as traffic:
        made = client.post("/lamina/v1/functions/steady/deployments",
                           json={"Alias": "live", "Strategy": "linear34-2s", "MaxErrorRate": 0.1})
        assert made.status_code == 201, made.get_data(as_text=True)
        doc = made.get_json()
        assert (doc["FromVersion"], doc["ToVersion"], doc["Status"], doc["Weight"]) == ("1", "2", "InProgress", 0.34)
        alias = client.get("/2015-03-31/functions/steady/aliases/live").get_json()
        assert alias["FunctionVersion"] == "1"
        assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.34}
        assert wait_for(lambda: _deployment(client, "steady", doc["DeploymentId"])["Status"] != "InProgress", 30), \
            worker.output()
    done = _deployment(client, "steady", doc["DeploymentId"])
    assert done["Status"] == "Succeeded", done
    assert [(h["event"], h["weight"]) for h in done["History"]] == \
        [("Started", 0.34), ("Shifted", 0.68), ("Succeeded", 1.0)]
    alias = client.get("/2015-03-31/functions/steady/aliases/live").get_json()
    assert alias["FunctionVersion"] == "2" and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    versions = {v for v, _ in traffic.seen}
    assert versions == {"1", "2"} and not any(err for _, err in traffic.seen), traffic.seen[-5:]
    assert _invoke(client, "steady") == ("2", False)
    listed = client.get("/lamina/v1/functions/steady/deployments").get_json()["Deployments"]
    assert [d["DeploymentId"] for d in listed] == [doc["DeploymentId"]]


def test_a_failing_version_is_rolled_back_by_itself(client: Any, fns: Any, worker_processes: Any) -> None:
    _setup(client, fns, "risky")
    fns.update_code("risky", {"app.py": _app("two", fail=True)})
    worker = worker_processes()
    doc = client.post("/lamina/v1/functions/risky/deployments",
                      json={"Alias": "live", "Strategy": "canary50-5m", "MaxErrorRate": 0.2,
                            "MinInvocations": 3}).get_json()
    assert doc["Status"] == "InProgress", doc
    with Traffic(client, "risky") as traffic:
        assert wait_for(lambda: _deployment(client, "risky", doc["DeploymentId"])["Status"] != "InProgress", 30), \
            worker.output()
    done = _deployment(client, "risky", doc["DeploymentId"])
    assert done["Status"] == "RolledBack" and "error rate" in done["Reason"], done
    assert done["History"][-1]["errors"] >= 1 and done["Weight"] == 0.0
    alias = client.get("/2015-03-31/functions/risky/aliases/live").get_json()
    assert alias["FunctionVersion"] == "1" and not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    assert any(v == "2" for v, _ in traffic.seen)  # it did get traffic before the rollback
    assert all(_invoke(client, "risky") == ("1", False) for _ in range(5))  # and gets none after


def test_stop_and_an_alias_changed_by_hand_end_a_deployment(client: Any, fns: Any, worker_processes: Any) -> None:
    _setup(client, fns, "halted")
    fns.update_code("halted", {"app.py": _app("two")})
    doc = client.post("/lamina/v1/functions/halted/deployments",
                      json={"Alias": "live", "Strategy": "LambdaCanary10Percent5Minutes"}).get_json()
    assert doc["Strategy"] == "canary10-5m" and doc["Weight"] == 0.1
    again = client.post("/lamina/v1/functions/halted/deployments", json={"Alias": "live", "Strategy": "canary10-5m"})
    assert again.status_code == 409 and again.headers["X-Amzn-ErrorType"] == "ResourceConflictException"
    stopped = client.post(f"/lamina/v1/functions/halted/deployments/{doc['DeploymentId']}/stop").get_json()
    assert stopped["Status"] == "Stopped" and stopped["Weight"] == 0.0
    assert client.get("/2015-03-31/functions/halted/aliases/live").get_json()["FunctionVersion"] == "1"
    assert client.post(f"/lamina/v1/functions/halted/deployments/{doc['DeploymentId']}/stop").status_code == 409
    # Someone moves the alias during a deployment: theirs wins, the deployment stops.
    second = client.post("/lamina/v1/functions/halted/deployments",
                         json={"Alias": "live", "FunctionVersion": "2", "Strategy": "linear10-1m"}).get_json()
    assert second["Status"] == "InProgress", second
    client.put("/2015-03-31/functions/halted/aliases/live", json={"FunctionVersion": "1", "RoutingConfig": {}})
    worker = worker_processes()
    assert wait_for(lambda: _deployment(client, "halted", second["DeploymentId"])["Status"] == "Stopped", 20), \
        worker.output()
    assert "changed outside" in _deployment(client, "halted", second["DeploymentId"])["Reason"]


@pytest.mark.parametrize("body, message", [
    ({"Alias": "live", "Strategy": "blue-green"}, "Unknown Strategy"),
    ({"Alias": "live", "Strategy": "canary0-5m"}, "between 1 and 99"),
    ({"Alias": "live", "Strategy": "linear10-0s"}, "interval"),
    ({"Alias": "live", "Strategy": "canary10-5m", "MaxErrorRate": 2}, "MaxErrorRate"),
    ({"Alias": "live", "Strategy": "canary10-5m", "MinInvocations": 1.5}, "MinInvocations"),
    ({"Alias": "live", "Strategy": "canary10-5m", "Bogus": 1}, "Bogus"),
    ({"Alias": "live", "Strategy": "canary10-5m", "FunctionVersion": "1"}, "already points"),
    ({"Alias": "live", "Strategy": "canary10-5m", "FunctionVersion": "$LATEST"}, "published version"),
    ({"Strategy": "canary10-5m"}, "Alias"),
    ({"Alias": "live", "Strategy": "canary10-5m", "MaxErrorRate": float("nan")}, "MaxErrorRate"),
    ({"Alias": "live", "Strategy": "canary10-5m", "MaxP99Ms": float("inf")}, "MaxP99Ms"),
])
def test_bad_deployments_are_refused_by_name(client: Any, fns: Any, body: dict[str, Any], message: str) -> None:
    _setup(client, fns, "checked")
    resp = client.post("/lamina/v1/functions/checked/deployments", json=body)
    assert resp.status_code == 400 and message in resp.get_json()["Message"], resp.get_data(as_text=True)
    assert client.post("/lamina/v1/functions/checked/deployments",
                       json={"Alias": "nope", "Strategy": "canary10-5m"}).status_code == 404
    for missing in ("77", "%C2%B2", "99999999999"):
        assert client.get(f"/lamina/v1/functions/checked/deployments/{missing}").status_code == 404
    made = client.post("/lamina/v1/functions/checked/deployments",
                       json={"Alias": "live", "Strategy": "canary10-5m", "FunctionVersion": "9"})
    assert made.status_code == 404  # no such version: refused before anything is written
    assert client.get("/lamina/v1/functions/checked/deployments").get_json()["Deployments"] == []


def test_lamina_deploy_shifts_an_alias_and_follows_it(live_server: Any, client: Any, fns: Any, tmp_path: Path,
                                                      worker_processes: Any) -> None:
    src = tmp_path / "fn"
    src.mkdir()
    (src / "app.py").write_text(_app("one"))
    runner = CliRunner()
    base = ["--name", "cli-dep", "--endpoint", live_server.url]
    first = runner.invoke(cli, ["deploy", str(src), *base, "--runtime", "python3.11", "--handler", "app.handler",
                                "--alias", "live", "--json"])
    assert first.exit_code == 0 and "nothing to shift" in first.output, first.output
    (src / "app.py").write_text(_app("two"))
    worker_processes()
    with Traffic(client, "cli-dep"):
        out = runner.invoke(cli, ["deploy", str(src), *base, "--alias", "live", "--strategy", "linear50-1s",
                                  "--wait"])
    assert out.exit_code == 0, out.output
    assert "Started" in out.output and "Succeeded" in out.output
    listed = json.loads(runner.invoke(cli, ["deployments", "list", "cli-dep", "--json", "--endpoint",
                                            live_server.url]).output)
    assert listed["Deployments"][0]["Status"] == "Succeeded" and listed["Deployments"][0]["ToVersion"] == "2"
    bad = runner.invoke(cli, ["deploy", str(src), *base, "--strategy", "canary10-5m"])
    assert bad.exit_code == 2 and "--alias" in bad.output
