"""Tags on functions (the unqualified function ARN is the resource); at most 50 per function."""

from __future__ import annotations

from typing import Any

from lamina.errors import InvalidParameterValueException
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import validate
from lamina.store.models import Function


def _function(deps: Deps, session: Any, account_id: str, resource: str, lock: bool = False) -> Function:
    ref = arns.parse_function_arn(resource, deps.settings.region, account_id)
    if ref.qualifier is not None:
        raise InvalidParameterValueException(
            "Tags are not supported on function versions or aliases; use the unqualified function ARN."
        )
    return common.load_function(deps, session, account_id, ref.name, lock=lock)


def tag_resource(deps: Deps, account_id: str, resource: str, tags: dict[str, str]) -> None:
    """TagResource: adds or overwrites the given tags."""
    validate.tags(tags)
    with deps.sessions.begin() as session:
        fn = _function(deps, session, account_id, resource, lock=True)
        fn.tags = validate.tags({**fn.tags, **tags})
        name = fn.name
    common.changed(deps, account_id, name)


def untag_resource(deps: Deps, account_id: str, resource: str, keys: list[str]) -> None:
    """UntagResource: removes the given keys (absent keys are ignored)."""
    with deps.sessions.begin() as session:
        fn = _function(deps, session, account_id, resource, lock=True)
        fn.tags = {k: v for k, v in fn.tags.items() if k not in set(keys)}
        name = fn.name
    common.changed(deps, account_id, name)


def list_tags(deps: Deps, account_id: str, resource: str) -> dict[str, str]:
    with deps.sessions() as session:
        return dict(_function(deps, session, account_id, resource).tags)
