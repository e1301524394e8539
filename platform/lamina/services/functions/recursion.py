"""Put/GetFunctionRecursionConfig: whether a function's chains of events are stopped (services.invoke.lineage)."""

from __future__ import annotations

from typing import Any

from lamina.errors import InvalidParameterValueException
from lamina.services import common
from lamina.services.common import Deps
from lamina.services.functions import validate

DEFAULT = "Terminate"


def get(deps: Deps, account_id: str, function_name: str) -> str:
    name = common.unqualified(deps, account_id, function_name)
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name)
        return fn.recursive_loop or DEFAULT


def put(deps: Deps, account_id: str, function_name: str, body: dict[str, Any]) -> str:
    """Set RecursiveLoop (Allow or Terminate) for every version of the function."""
    unknown = set(body) - {"RecursiveLoop"}
    if unknown:
        raise InvalidParameterValueException(f"Unknown members: {', '.join(sorted(unknown))}")
    if "RecursiveLoop" not in body:
        raise InvalidParameterValueException("RecursiveLoop is required.")
    mode = validate.recursive_loop(body["RecursiveLoop"])
    name = common.unqualified(deps, account_id, function_name)
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name, lock=True)
        fn.recursive_loop = None if mode == DEFAULT else mode
    common.changed(deps, account_id, name)  # the cached specs carry it to the event runners
    return mode
