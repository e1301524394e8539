"""Runtime versions: which build of its runtime image a function runs on, and when it moves to a new one.

A runtime version is a runtime image as built here (``lamina images build`` rebuilds one when its
runtime changes): its ARN is ``arn:aws:lambda:REGION::runtime:<image id hex>``, Lambda's own shape.
``PutRuntimeManagementConfig`` decides when a function moves (``UpdateRuntimeOn``):

* ``Auto`` (the default): always the current image of its runtime;
* ``FunctionUpdate``: the image current when its code or configuration last changed;
* ``Manual``: the version named by ``RuntimeVersionArn``, which must be an image on this host.

Each version records the runtime version it was published on; the invoke path runs the recorded image
(by id) in the last two modes, so a rebuilt image does not reach such a function until it moves.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from lamina import runtimes
from lamina.errors import InvalidParameterValueException
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.store.models import Function, FunctionVersion

MODES = ("Auto", "FunctionUpdate", "Manual")
_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+::runtime:(?P<digest>[0-9a-f]{64})")
CACHE_S = 10.0
_current: dict[tuple[int, str], tuple[float, str | None]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class RuntimeManagement:
    update_runtime_on: str
    function_arn: str
    runtime_version_arn: str | None


def arn_of(deps: Deps, digest: str) -> str:
    return f"arn:aws:lambda:{deps.settings.region}::runtime:{digest}"


def image_of(arn: str | None) -> str | None:
    """The Docker image id of a runtime version ARN (None for None)."""
    m = _ARN.fullmatch(arn) if arn else None
    return f"sha256:{m.group('digest')}" if m else None


def current(deps: Deps, runtime: str | None) -> str | None:
    """The ARN of ``runtime``'s current image (None without a runtime, an image, or a Docker engine)."""
    if not runtime or not runtimes.is_supported(runtime):
        return None
    key = (id(deps), runtime)
    now = time.monotonic()
    with _lock:
        hit = _current.get(key)
    if hit is not None and now - hit[0] < CACHE_S:
        return hit[1]
    try:
        image_id = str(deps.docker.api.inspect_image(runtimes.image_for(runtime, deps.settings.image_prefix))["Id"])
        found: str | None = arn_of(deps, image_id.removeprefix("sha256:"))
    except Exception:  # noqa: BLE001 - no engine or no image here: the configuration shows no version
        found = None
    with _lock:
        _current[key] = (now, found)
    return found


def effective(deps: Deps, fn: Function, src: Function | FunctionVersion) -> str | None:
    """The runtime version ARN ``src`` runs on now (and its configuration shows)."""
    if src.package_type == "Image" or not src.runtime:
        return None
    if (fn.runtime_update_mode or "Auto") == "Auto" or not src.runtime_version_arn:
        return current(deps, src.runtime)
    return src.runtime_version_arn


def on_update(deps: Deps, fn: Function) -> None:
    """After a change of code or configuration: a FunctionUpdate function moves to the current version
    (an Auto one follows the current image anyway; a Manual one stays where it is pinned)."""
    if (fn.runtime_update_mode or "Auto") != "Manual":
        fn.runtime_version_arn = current(deps, fn.runtime)


def get(deps: Deps, account_id: str, function_name: str, qualifier: str | None) -> RuntimeManagement:
    name = common.unqualified(deps, account_id, function_name)
    _only_latest(qualifier)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        mode = fn.runtime_update_mode or "Auto"
        return RuntimeManagement(mode, arns.function_arn(deps.settings.region, account_id, fn.name),
                                 fn.runtime_version_arn if mode == "Manual" else None)


def put(deps: Deps, account_id: str, function_name: str, qualifier: str | None, body: dict[str, Any]
        ) -> RuntimeManagement:
    """PutRuntimeManagementConfig."""
    name = common.unqualified(deps, account_id, function_name)
    _only_latest(qualifier)
    unknown = set(body) - {"UpdateRuntimeOn", "RuntimeVersionArn"}
    if unknown:
        raise InvalidParameterValueException(f"Unknown members: {', '.join(sorted(unknown))}")
    mode, arn = body.get("UpdateRuntimeOn"), body.get("RuntimeVersionArn")
    if mode not in MODES:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{mode}' at 'updateRuntimeOn' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(MODES)}]")
    if mode != "Manual" and arn is not None:
        raise InvalidParameterValueException("RuntimeVersionArn is only allowed with UpdateRuntimeOn Manual.")
    if mode == "Manual":
        if not isinstance(arn, str) or image_of(arn) is None:
            raise InvalidParameterValueException(f"Invalid RuntimeVersionArn: {arn!r}")
        if not _present(deps, str(image_of(arn))):
            raise InvalidParameterValueException(f"Runtime version {arn} does not exist on this lamina.")
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name, lock=True)
        if fn.package_type == "Image":
            raise InvalidParameterValueException("Runtime management is not supported for container-image functions.")
        fn.runtime_update_mode = None if mode == "Auto" else mode
        fn.runtime_version_arn = arn if mode == "Manual" else current(deps, fn.runtime)
        out = RuntimeManagement(mode, arns.function_arn(deps.settings.region, account_id, fn.name),
                                arn if mode == "Manual" else None)
    common.changed(deps, account_id, name)
    return out


def _only_latest(qualifier: str | None) -> None:
    if qualifier not in (None, arns.LATEST):
        raise InvalidParameterValueException("Runtime management configuration applies to $LATEST only.")


def _present(deps: Deps, image_id: str) -> bool:
    try:
        deps.docker.api.inspect_image(image_id)
        return True
    except Exception:  # noqa: BLE001 - not found, or no engine to ask
        return False
