"""What every control-plane service shares: its dependencies, the clock, blob bookkeeping, lookups.

Blob rule: a blob is written only after validation, inside the transaction that references it and
under that key's advisory lock; if the transaction fails, or a row stops referencing a blob, the blob
is deleted once no row needs it (``release``), checked under the same lock so a concurrent writer of
the same bytes is never robbed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import redis

from lamina.config import Settings
from lamina.errors import (
    CodeStorageExceededException,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceNotFoundException,
)
from lamina.scheduler import catalog
from lamina.services import arns
from lamina.services.functions.zips import Archive
from lamina.services.records import FunctionRecord, LayerRef
from lamina.store import queries
from lamina.store.codestore import CodeStore
from lamina.store.models import Function, FunctionVersion


class Deps(Protocol):
    """The collaborators a service call needs (``lamina.wiring.Components`` satisfies it)."""

    settings: Settings
    sessions: queries.SessionFactory
    redis: redis.Redis
    code_store: CodeStore

    @property
    def docker(self) -> Any:
        """The Docker client (made on first use)."""


def now() -> datetime:
    return datetime.now(UTC)


def new_revision() -> str:
    return str(uuid.uuid4())


def changed(deps: Deps, account_id: str, name: str, *, reservations: bool = False) -> None:
    """Tell the invoke path's cache that function ``name`` changed (call after the commit).

    ``reservations``: its reserved concurrency changed (or went with it), so the account's sum did too.
    """
    catalog.invalidate(deps.redis, account_id, name)
    if reservations:
        catalog.reservations_changed(deps.redis, account_id)


def deleted(deps: Deps, account_id: str, name: str, version: str | None = None) -> None:
    """Tell the invoke path that function ``name`` (or one published ``version``) was deleted (call after
    the commit): its cached specs go, and its warm environments are retired within a reaper round."""
    catalog.deleted(deps.redis, account_id, name, version)
    if version is None:
        catalog.reservations_changed(deps.redis, account_id)


# -- blobs


def store_blob(session: Any, code_store: CodeStore, archive: Archive) -> str:
    """Write ``archive`` to the code store under its key's lock, inside ``session``'s transaction."""
    queries.lock_code_key(session, archive.key)
    code_store.put(archive.data)
    return archive.key


def release(deps: Deps, keys: Iterable[str | None]) -> None:
    """Delete each blob in ``keys`` that no row references any more."""
    for key in sorted({k for k in keys if k}):
        with deps.sessions.begin() as session:
            queries.lock_code_key(session, key)
            if not queries.blob_referenced(session, key):
                deps.code_store.delete(key)


@contextmanager
def blob_guard(deps: Deps) -> Iterator[list[str]]:
    """Collects keys written in a transaction; if the block fails, releases them again."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        release(deps, written)
        raise


def check_quota(deps: Deps, session: Any, account_id: str, extra_bytes: int) -> None:
    """CodeStorageExceededException if storing ``extra_bytes`` more passes the account's code storage."""
    if extra_bytes > 0 and queries.code_usage(session, account_id) + extra_bytes > deps.settings.total_code_bytes:
        raise CodeStorageExceededException(
            f"Code storage limit exceeded: the account may store at most {deps.settings.total_code_bytes} bytes."
        )


# -- lookups


T = TypeVar("T")


def found_or_404(found: T | None, message: str) -> T:
    """``found``, or ResourceNotFoundException(``message``) when there is none."""
    if found is None:
        raise ResourceNotFoundException(message)
    return found


def not_found(region: str, account_id: str, name: str, qualifier: str | None = None) -> ResourceNotFoundException:
    arn = arns.function_arn(region, account_id, name, qualifier)
    return ResourceNotFoundException(f"Function not found: {arn}")


def load_function(deps: Deps, session: Any, account_id: str, name: str, lock: bool = False) -> Function:
    """The function row for ``name``; ResourceNotFoundException if there is none."""
    fn = queries.get_function(session, account_id, name, lock=lock)
    if fn is None:
        raise not_found(deps.settings.region, account_id, name)
    return fn


def unqualified(deps: Deps, account_id: str, function_name: str) -> str:
    """Parse a FunctionName that must not carry a qualifier (other than $LATEST); return the bare name."""
    ref = arns.parse_function_name(function_name, deps.settings.region, account_id)
    if ref.qualifier not in (None, arns.LATEST):
        raise InvalidParameterValueException(
            f"Unsupported qualifier {ref.qualifier!r} for this operation; pass the unqualified function name."
        )
    return ref.name


def refuse_for_tenancy(fn: Function, feature: str) -> None:
    """Lambda's rule: a PER_TENANT function has no provisioned concurrency, function URL or event source
    mapping (none of them names a tenant)."""
    if fn.tenancy_config:
        raise InvalidParameterValueException(
            f"{feature} is not supported for functions with tenant isolation mode PER_TENANT.")


def log_group_of(function_name: str, logging_config: dict[str, str] | None) -> str:
    """The log group a function writes to: its LoggingConfig's LogGroup, else /aws/lambda/NAME."""
    return (logging_config or {}).get("LogGroup") or f"/aws/lambda/{function_name}"


def record(deps: Deps, fn: Function, src: Function | FunctionVersion, arn_qualifier: str | None) -> FunctionRecord:
    """The FunctionRecord of ``src`` ($LATEST = the function row itself, or a published version)."""
    version = arns.LATEST if isinstance(src, Function) else str(src.version)
    return FunctionRecord(
        name=fn.name,
        function_arn=arns.function_arn(deps.settings.region, fn.account_id, fn.name, arn_qualifier),
        version=version,
        description=src.description,
        role=src.role,
        runtime=src.runtime,
        handler=src.handler,
        package_type=src.package_type,
        image_uri=src.image_uri,
        image_config=src.image_config,
        vpc_config=src.vpc_config,
        file_system_configs=src.file_system_configs,
        logging_config={k: v for k, v in (src.logging_config or {}).items() if k != "LogGroup"} or None,
        tenancy_config=src.tenancy_config,
        memory_size=src.memory_size,
        timeout=src.timeout,
        ephemeral_storage=src.ephemeral_storage,
        architectures=list(src.architectures),
        environment=dict(src.environment),
        layers=[LayerRef(arn=layer["arn"], code_size=int(layer.get("code_size", 0))) for layer in src.layers],
        code_sha256=src.code_sha256,
        code_size=src.code_size,
        code_key=src.code_key,
        revision_id=src.revision_id,
        last_modified=src.last_modified,
        log_group=log_group_of(fn.name, src.logging_config),
        runtime_version_arn=_runtime_version(deps, fn, src),
    )


def _runtime_version(deps: Deps, fn: Function, src: Function | FunctionVersion) -> str | None:
    from lamina.services.functions import runtime_versions  # it builds on this module

    return runtime_versions.effective(deps, fn, src)


def check_revision(current: str, expected: str | None) -> None:
    """PreconditionFailedException unless ``expected`` is None or equals ``current``."""
    if expected is not None and expected != current:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )
