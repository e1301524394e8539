"""Functions for execution tests: zips built in the test, created through the Lambda API.

``Functions`` speaks the control plane's REST API through the Flask test client (CreateFunction,
UpdateFunctionConfiguration/Code, PutFunctionConcurrency, PublishLayerVersion, PublishVersion,
CreateAlias). While the control plane is not there (no ``lamina.services.functions.functions``), it keeps the
resolved specs itself and hands them to the invoker as ``resolve_for_invoke`` would, invalidating the
spec cache exactly as the control plane does.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import io
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

from lamina.errors import ResourceNotFoundException
from lamina.scheduler import catalog

ROLE = "arn:aws:iam::000000000000:role/lamina-test"


def make_zip(files: Mapping[str, str | bytes], executable: Iterable[str] = ()) -> bytes:
    """A zip of ``files`` (name -> content); names in ``executable`` get mode 0755, others 0644."""
    execs = set(executable)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = ((0o100755 if name in execs else 0o100644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content.encode() if isinstance(content, str) else content)
    return buf.getvalue()


def control_plane_present(app: Any) -> bool:
    """True once the control plane's API serves CreateFunction (and can resolve functions for invoke)."""
    if importlib.util.find_spec("lamina.services.functions.functions") is None:
        return False
    return any(r.rule == "/2015-03-31/functions" and "POST" in (r.methods or ()) for r in app.url_map.iter_rules())


class Functions:
    def __init__(self, client: Any, components: Any, invoker: Any) -> None:
        self.client = client
        self.components = components
        self.settings = components.settings
        self.api = control_plane_present(client.application)
        self._layers: dict[str, str] = {}  # fallback: layer version ARN -> code key
        self._specs: dict[tuple[str, str], dict[str, Any]] = {}
        self._versions: dict[str, int] = {}
        if not self.api:
            invoker._resolve = self._resolve

    # -- API helpers

    def _call(self, method: str, path: str, body: Any = None, status: int | tuple[int, ...] = (200, 201, 202)) -> Any:
        resp = self.client.open(path, method=method, json=body)
        ok = (status,) if isinstance(status, int) else status
        assert resp.status_code in ok, f"{method} {path}: {resp.status_code} {resp.get_data(as_text=True)}"
        return resp.get_json(silent=True) or {}

    # -- operations

    def create(
        self,
        name: str,
        files: Mapping[str, str | bytes] | None = None,
        *,
        runtime: str | None = "python3.11",
        handler: str | None = "app.handler",
        memory: int = 128,
        timeout: int = 3,
        env: Mapping[str, str] | None = None,
        layers: Iterable[str] = (),
        executable: Iterable[str] = (),
        image_uri: str | None = None,
        image_config: Mapping[str, Any] | None = None,
        ephemeral_mb: int = 512,
        isolation: str | None = None,
    ) -> dict[str, Any]:
        """CreateFunction; ``isolation`` ("container", "gvisor") also sets the sandbox it runs in."""
        body: dict[str, Any] = {
            "FunctionName": name,
            "Role": ROLE,
            "MemorySize": memory,
            "Timeout": timeout,
            "EphemeralStorage": {"Size": ephemeral_mb},
        }
        if image_uri:
            body.update({"PackageType": "Image", "Code": {"ImageUri": image_uri}})
            if image_config:
                body["ImageConfig"] = dict(image_config)
        else:
            zipped = make_zip(files or {}, executable)
            body.update(
                {"Runtime": runtime, "Handler": handler, "Code": {"ZipFile": base64.b64encode(zipped).decode()}}
            )
        if env:
            body["Environment"] = {"Variables": dict(env)}
        if layers:
            body["Layers"] = list(layers)
        if self.api:
            created = self._call("POST", "/2015-03-31/functions", body, 201)
            if isolation is not None:
                self.set_isolation(name, isolation)
            return created
        code_key = self.components.code_store.put(zipped) if not image_uri else None
        spec = {
            "account_id": self.settings.account_id,
            "function_name": name,
            "function_arn": f"arn:aws:lambda:{self.settings.region}:{self.settings.account_id}:function:{name}",
            "version": "$LATEST",
            "revision_id": str(uuid.uuid4()),
            "runtime": None if image_uri else runtime,
            "handler": None if image_uri else handler,
            "package_type": "Image" if image_uri else "Zip",
            "image_uri": image_uri,
            "image_config": dict(image_config or {}),
            "memory_size": memory,
            "timeout": timeout,
            "ephemeral_storage": ephemeral_mb,
            "environment": dict(env or {}),
            "layers": [{"arn": arn, "code_key": self._layers[arn], "code_sha256": ""} for arn in layers],
            "code_key": code_key,
            "reserved_concurrency": None,
            "alias": None,
            "routing": {},
        }
        self._specs[(name, "$LATEST")] = spec
        self._changed(name)
        return {"FunctionName": name, "RevisionId": spec["revision_id"]}

    def set_isolation(self, name: str, mode: str | None) -> dict[str, Any]:
        return self._call("PUT", f"/lamina/v1/functions/{name}/isolation", {"Isolation": mode}, 200)

    def update_config(self, name: str, **changes: Any) -> dict[str, Any]:
        """Changes in the fake's terms: memory, timeout, env, handler, vpc."""
        if self.api:
            body: dict[str, Any] = {}
            if "memory" in changes:
                body["MemorySize"] = changes["memory"]
            if "timeout" in changes:
                body["Timeout"] = changes["timeout"]
            if "env" in changes:
                body["Environment"] = {"Variables": changes["env"]}
            if "handler" in changes:
                body["Handler"] = changes["handler"]
            if "vpc" in changes:
                body["VpcConfig"] = changes["vpc"]
            unknown = set(changes) - {"memory", "timeout", "env", "handler", "vpc"}
            assert not unknown, f"update_config does not know {unknown}"
            return self._call("PUT", f"/2015-03-31/functions/{name}/configuration", body)
        spec = self._specs[(name, "$LATEST")]
        mapping = {"memory": "memory_size", "timeout": "timeout", "env": "environment", "handler": "handler"}
        for k, v in changes.items():
            spec[mapping[k]] = v
        spec["revision_id"] = str(uuid.uuid4())
        self._changed(name)
        return {"RevisionId": spec["revision_id"]}

    def update_code(
        self, name: str, files: Mapping[str, str | bytes], executable: Iterable[str] = ()
    ) -> dict[str, Any]:
        zipped = make_zip(files, executable)
        if self.api:
            return self._call(
                "PUT", f"/2015-03-31/functions/{name}/code", {"ZipFile": base64.b64encode(zipped).decode()}
            )
        spec = self._specs[(name, "$LATEST")]
        spec["code_key"] = self.components.code_store.put(zipped)
        spec["revision_id"] = str(uuid.uuid4())
        self._changed(name)
        return {"RevisionId": spec["revision_id"]}

    def put_concurrency(self, name: str, reserved: int) -> None:
        if self.api:
            self._call("PUT", f"/2017-10-31/functions/{name}/concurrency", {"ReservedConcurrentExecutions": reserved})
            return
        for (fn, _q), spec in self._specs.items():
            if fn == name:
                spec["reserved_concurrency"] = reserved
        self._changed(name)

    def publish_layer(self, name: str, files: Mapping[str, str | bytes], executable: Iterable[str] = ()) -> str:
        zipped = make_zip(files, executable)
        if self.api:
            doc = self._call(
                "POST",
                f"/2018-10-31/layers/{name}/versions",
                {"Content": {"ZipFile": base64.b64encode(zipped).decode()}},
                201,
            )
            return str(doc["LayerVersionArn"])
        arn = f"arn:aws:lambda:{self.settings.region}:{self.settings.account_id}:layer:{name}:{len(self._layers) + 1}"
        self._layers[arn] = self.components.code_store.put(zipped)
        return arn

    def publish_version(self, name: str) -> str:
        if self.api:
            return str(self._call("POST", f"/2015-03-31/functions/{name}/versions", {}, 201)["Version"])
        n = self._versions.get(name, 0) + 1
        self._versions[name] = n
        spec = copy.deepcopy(self._specs[(name, "$LATEST")])
        spec.update(version=str(n), revision_id=str(uuid.uuid4()))
        self._specs[(name, str(n))] = spec
        self._changed(name)
        return str(n)

    def create_alias(self, name: str, alias: str, version: str, weights: Mapping[str, float] | None = None) -> None:
        if self.api:
            body: dict[str, Any] = {"Name": alias, "FunctionVersion": version}
            if weights:
                body["RoutingConfig"] = {"AdditionalVersionWeights": dict(weights)}
            self._call("POST", f"/2015-03-31/functions/{name}/aliases", body, 201)
            return
        spec = copy.deepcopy(self._specs[(name, version)])
        spec.update(alias=alias, routing=dict(weights or {}))
        self._specs[(name, alias)] = spec
        self._changed(name)

    # -- fallback control plane

    def _changed(self, name: str) -> None:
        catalog.invalidate(self.components.redis, self.settings.account_id, name)

    def _resolve(self, _sessions: Any, account_id: str, name: str, qualifier: str | None) -> dict[str, Any]:
        spec = self._specs.get((name, qualifier or "$LATEST"))
        if spec is None:
            raise ResourceNotFoundException(f"Function not found: {name}")
        return copy.deepcopy(spec)
