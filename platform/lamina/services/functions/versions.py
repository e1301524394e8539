"""Published versions: immutable, numbered snapshots of a function's code and configuration.

Numbers come from ``Function.last_version`` under the function row's lock, so concurrent publishes
never share a number and numbers are never reused after a delete.
"""

from __future__ import annotations

from typing import Any

from lamina.errors import InvalidParameterValueException
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import validate
from lamina.services.records import FunctionRecord, Page
from lamina.store import queries
from lamina.store.models import Function, FunctionVersion

# What a version copies from $LATEST (besides description, revision_id and last_modified).
SNAPSHOT_FIELDS = (
    "role", "runtime", "handler", "package_type", "image_uri", "image_config", "vpc_config", "file_system_configs",
    "logging_config", "tenancy_config", "memory_size", "timeout", "ephemeral_storage", "architectures",
    "environment", "layers", "code_sha256", "code_size", "unzipped_size", "code_key", "runtime_version_arn",
)


def unchanged_since(version: FunctionVersion, fn: Function) -> bool:
    return all(getattr(version, f) == getattr(fn, f) for f in SNAPSHOT_FIELDS)


def publish_in(session: Any, fn: Function, description: str | None) -> FunctionVersion:
    """Snapshot $LATEST as the next version, or return the newest version if nothing changed since.

    The caller holds ``fn``'s row lock and owns the transaction.
    """
    last = queries.latest_version(session, fn.id)
    if last is not None and unchanged_since(last, fn):
        return last
    fn.last_version += 1
    version = FunctionVersion(
        function_id=fn.id,
        version=fn.last_version,
        description=fn.description if description is None else description,
        revision_id=common.new_revision(),
        last_modified=common.now(),
        **{f: getattr(fn, f) for f in SNAPSHOT_FIELDS},
    )
    session.add(version)
    session.flush()
    return version


def publish_version(deps: Deps, account_id: str, function_name: str, code_sha256: str | None = None,
                    description: str | None = None, revision_id: str | None = None) -> FunctionRecord:
    """PublishVersion. Raises PreconditionFailedException for a stale RevisionId and
    InvalidParameterValueException when ``code_sha256`` is not $LATEST's (as Lambda does)."""
    name = common.unqualified(deps, account_id, function_name)
    if description is not None:
        validate.description(description)
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name, lock=True)
        common.check_revision(fn.revision_id, revision_id)
        if code_sha256 is not None and code_sha256 != fn.code_sha256:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({fn.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        version = publish_in(session, fn, description)
        result = common.record(deps, fn, version, str(version.version))
    common.changed(deps, account_id, name)
    return result


def list_versions(deps: Deps, account_id: str, function_name: str, marker: str | None = None,
                  max_items: int | None = None) -> Page[FunctionRecord]:
    """ListVersionsByFunction: $LATEST, then versions in ascending order; ``marker`` = last version seen."""
    name = common.unqualified(deps, account_id, function_name)
    limit = min(validate.max_items(max_items, 10000, 50), 50)
    if marker is None or marker == "":
        after = -1
    elif marker == arns.LATEST:
        after = 0
    elif arns.VERSION_RE.fullmatch(marker):
        after = int(marker)
    else:
        raise InvalidParameterValueException(f"Invalid marker: {marker}")
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, name)
        items: list[tuple[str, FunctionRecord]] = []
        if after < 0:
            items.append((arns.LATEST, common.record(deps, fn, fn, arns.LATEST)))
        for v in queries.list_versions(session, fn.id, max(after, 0), limit + 1):
            items.append((str(v.version), common.record(deps, fn, v, str(v.version))))
    return _page(items, limit)


def _page(items: list[tuple[str, FunctionRecord]], limit: int) -> Page[FunctionRecord]:
    if len(items) > limit:
        return Page([r for _, r in items[:limit]], next_marker=items[limit - 1][0])
    return Page([r for _, r in items])
