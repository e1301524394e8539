"""Every query the control-plane services run, so services never import SQLAlchemy.

Functions take an open ``Session`` (the caller owns the transaction) and return model objects or
plain values. ``lock=True`` means ``SELECT ... FOR UPDATE``: the row stays locked until the caller's
transaction ends, which is how RevisionId checks and version numbering stay race-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import String, cast, delete, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lamina.store.models import (
    Account,
    Alias,
    Base,
    Deployment,
    EventInvokeConfig,
    Function,
    FunctionVersion,
    Layer,
    LayerVersion,
    LogChunk,
    LogGroupSetting,
    ProvisionedConcurrencyConfig,
)

SessionFactory = sessionmaker[Session]
M = TypeVar("M", bound=Base)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def add_unique(session: Session, obj: Base) -> bool:
    """Insert ``obj``; return False (and leave the transaction usable) if a unique constraint refused it."""
    try:
        with session.begin_nested():
            session.add(obj)
            session.flush()
    except IntegrityError:
        return False
    return True


def delete_obj(session: Session, obj: Base) -> None:
    session.delete(obj)
    session.flush()


# -- advisory locks (PostgreSQL; SQLite serialises writers on its own)


def _advisory(session: Session, key: int) -> None:
    if _is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def lock_code_key(session: Session, code_key: str) -> None:
    """Serialise writers and collectors of one blob until the transaction ends."""
    _advisory(session, int(code_key[:15], 16))


def lock_account(session: Session, account_id: str) -> None:
    """Serialise account-wide checks (reserved concurrency) until the transaction ends."""
    # A distinct high range, so it cannot collide with code-key locks (those are < 2**60).
    _advisory(session, (1 << 61) + int(account_id))


# -- functions


def get_function(session: Session, account_id: str, name: str, lock: bool = False) -> Function | None:
    stmt = select(Function).where(Function.account_id == account_id, Function.name == name)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_functions(session: Session, account_id: str, after: str | None, limit: int) -> list[Function]:
    stmt = select(Function).where(Function.account_id == account_id).order_by(Function.name).limit(limit)
    if after is not None:
        stmt = stmt.where(Function.name > after)
    return list(session.scalars(stmt))


def list_functions_from(session: Session, account_id: str, start: str | None, limit: int) -> list[Function]:
    """Functions named ``start`` or later (inclusive), for version-expanded listings."""
    stmt = select(Function).where(Function.account_id == account_id).order_by(Function.name).limit(limit)
    if start is not None:
        stmt = stmt.where(Function.name >= start)
    return list(session.scalars(stmt))


def search_functions(session: Session, account_id: str, text: str, offset: int,
                     limit: int) -> tuple[list[Function], int]:
    """One page of the account's functions whose name contains ``text`` (any case), by name; and how many
    there are in all."""
    where = [Function.account_id == account_id]
    if text:
        where.append(func.lower(Function.name).contains(text.lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(Function).where(*where)) or 0
    rows = session.scalars(select(Function).where(*where).order_by(Function.name).offset(offset).limit(limit))
    return list(rows), int(total)


def function_count(session: Session, account_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Function).where(Function.account_id == account_id)) or 0


def reserved_total(session: Session, account_id: str, exclude_function_id: int | None = None) -> int:
    stmt = select(func.coalesce(func.sum(Function.reserved_concurrency), 0)).where(
        Function.account_id == account_id
    )
    if exclude_function_id is not None:
        stmt = stmt.where(Function.id != exclude_function_id)
    return int(session.scalar(stmt) or 0)


def account_quotas(session: Session, account_id: str) -> tuple[int | None, int | None]:
    """(concurrency quota, API requests per second) of the account; None where it has no quota of its own."""
    row = session.execute(
        select(Account.concurrency_limit, Account.api_rate_limit).where(Account.id == account_id)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


def set_account_quotas(session: Session, account_id: str, concurrency: int | None, api_rate: int | None) -> bool:
    """Store the account's quotas (None: back to the instance default); False if there is no such account."""
    account = session.get(Account, account_id, with_for_update=True)
    if account is None:
        return False
    account.concurrency_limit, account.api_rate_limit = concurrency, api_rate
    return True


def code_usage(session: Session, account_id: str) -> int:
    """Bytes of code the account stores: $LATEST, published versions and live layer versions."""
    fn = session.scalar(
        select(func.coalesce(func.sum(Function.code_size), 0)).where(Function.account_id == account_id)
    )
    ver = session.scalar(
        select(func.coalesce(func.sum(FunctionVersion.code_size), 0))
        .join(Function, FunctionVersion.function_id == Function.id)
        .where(Function.account_id == account_id)
    )
    lay = session.scalar(
        select(func.coalesce(func.sum(LayerVersion.code_size), 0))
        .join(Layer, LayerVersion.layer_id == Layer.id)
        .where(Layer.account_id == account_id, LayerVersion.deleted.is_(False))
    )
    return int(fn or 0) + int(ver or 0) + int(lay or 0)


# -- versions


def get_version(session: Session, function_id: int, version: int) -> FunctionVersion | None:
    return session.scalars(
        select(FunctionVersion).where(FunctionVersion.function_id == function_id, FunctionVersion.version == version)
    ).one_or_none()


def latest_version(session: Session, function_id: int) -> FunctionVersion | None:
    return session.scalars(
        select(FunctionVersion)
        .where(FunctionVersion.function_id == function_id)
        .order_by(FunctionVersion.version.desc())
        .limit(1)
    ).one_or_none()


def list_versions(session: Session, function_id: int, after: int, limit: int) -> list[FunctionVersion]:
    return list(
        session.scalars(
            select(FunctionVersion)
            .where(FunctionVersion.function_id == function_id, FunctionVersion.version > after)
            .order_by(FunctionVersion.version)
            .limit(limit)
        )
    )


# -- aliases


def get_alias(session: Session, function_id: int, name: str, lock: bool = False) -> Alias | None:
    stmt = select(Alias).where(Alias.function_id == function_id, Alias.name == name)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def list_aliases(session: Session, function_id: int, after: str | None, limit: int,
                 version: str | None = None) -> list[Alias]:
    stmt = select(Alias).where(Alias.function_id == function_id).order_by(Alias.name).limit(limit)
    if after is not None:
        stmt = stmt.where(Alias.name > after)
    if version is not None:
        stmt = stmt.where(Alias.function_version == version)
    return list(session.scalars(stmt))


def all_aliases(session: Session, function_id: int) -> list[Alias]:
    return list(session.scalars(select(Alias).where(Alias.function_id == function_id)))


# -- event-invoke configs


def get_event_invoke_config(session: Session, function_id: int, qualifier: str) -> EventInvokeConfig | None:
    return session.scalars(
        select(EventInvokeConfig).where(
            EventInvokeConfig.function_id == function_id, EventInvokeConfig.qualifier == qualifier
        )
    ).one_or_none()


def get_provisioned_config(session: Session, function_id: int,
                           qualifier: str) -> ProvisionedConcurrencyConfig | None:
    return session.scalars(
        select(ProvisionedConcurrencyConfig).where(
            ProvisionedConcurrencyConfig.function_id == function_id, ProvisionedConcurrencyConfig.qualifier == qualifier
        )
    ).one_or_none()


def list_provisioned_configs(session: Session, function_id: int | None = None, after: str | None = None,
                             limit: int | None = None) -> list[ProvisionedConcurrencyConfig]:
    """A function's configurations by qualifier (``function_id`` None: every function's, for the provisioner)."""
    stmt = select(ProvisionedConcurrencyConfig).order_by(ProvisionedConcurrencyConfig.function_id,
                                                         ProvisionedConcurrencyConfig.qualifier)
    if function_id is not None:
        stmt = stmt.where(ProvisionedConcurrencyConfig.function_id == function_id)
    if after is not None:
        stmt = stmt.where(ProvisionedConcurrencyConfig.qualifier > after)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def provisioned_total(session: Session, function_id: int, exclude_qualifier: str | None = None) -> int:
    stmt = select(func.coalesce(func.sum(ProvisionedConcurrencyConfig.requested), 0)).where(
        ProvisionedConcurrencyConfig.function_id == function_id)
    if exclude_qualifier is not None:
        stmt = stmt.where(ProvisionedConcurrencyConfig.qualifier != exclude_qualifier)
    return int(session.scalar(stmt) or 0)


def list_event_invoke_configs(session: Session, function_id: int, after: str | None,
                              limit: int) -> list[EventInvokeConfig]:
    stmt = (
        select(EventInvokeConfig)
        .where(EventInvokeConfig.function_id == function_id)
        .order_by(EventInvokeConfig.qualifier)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(EventInvokeConfig.qualifier > after)
    return list(session.scalars(stmt))


def delete_event_invoke_configs(session: Session, function_id: int, qualifier: str) -> None:
    session.execute(
        delete(EventInvokeConfig).where(
            EventInvokeConfig.function_id == function_id, EventInvokeConfig.qualifier == qualifier
        )
    )


# -- layers


def file_system_users(session: Session, account_id: str) -> list[tuple[str, str, list[dict[str, str]]]]:
    """(function name, version or $LATEST, FileSystemConfigs) of every config of the account with one."""
    rows = [(fn.name, "$LATEST", fn.file_system_configs or []) for fn in session.scalars(
        select(Function).where(Function.account_id == account_id, Function.file_system_configs.is_not(None)))]
    rows += [(name, str(v.version), v.file_system_configs or []) for v, name in session.execute(
        select(FunctionVersion, Function.name).join(Function, Function.id == FunctionVersion.function_id)
        .where(Function.account_id == account_id, FunctionVersion.file_system_configs.is_not(None)))]
    return rows


def get_layer(session: Session, account_id: str, name: str, lock: bool = False) -> Layer | None:
    stmt = select(Layer).where(Layer.account_id == account_id, Layer.name == name)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def get_layer_version(session: Session, account_id: str, name: str, version: int) -> LayerVersion | None:
    """A live (not deleted) layer version, or None."""
    return session.scalars(
        select(LayerVersion)
        .join(Layer, LayerVersion.layer_id == Layer.id)
        .where(Layer.account_id == account_id, Layer.name == name, LayerVersion.version == version,
               LayerVersion.deleted.is_(False))
    ).one_or_none()


def list_layer_versions(session: Session, layer_id: int, before: int | None, limit: int) -> list[LayerVersion]:
    """Live versions of a layer, newest first, numbered below ``before`` when given."""
    stmt = (
        select(LayerVersion)
        .where(LayerVersion.layer_id == layer_id, LayerVersion.deleted.is_(False))
        .order_by(LayerVersion.version.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(LayerVersion.version < before)
    return list(session.scalars(stmt))


def list_layers(session: Session, account_ids: str | list[str], after: str | None, limit: int) -> list[Layer]:
    """Layers of the account (or accounts: its own and the public ones), by name."""
    owners = [account_ids] if isinstance(account_ids, str) else account_ids
    stmt = select(Layer).where(Layer.account_id.in_(owners)).order_by(Layer.name).limit(limit)
    if after is not None:
        stmt = stmt.where(Layer.name > after)
    return list(session.scalars(stmt))


# -- blobs


def code_references(session: Session) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """(code key, layers) of every function's $LATEST and every published version, in all accounts."""
    rows = list(session.execute(select(Function.code_key, Function.layers)).all())
    rows += session.execute(select(FunctionVersion.code_key, FunctionVersion.layers)).all()
    return [(key, list(layers or ())) for key, layers in rows]


def blob_referenced(session: Session, code_key: str) -> bool:
    """True if any function, version or layer version (live or still used) needs blob ``code_key``."""
    pattern = f"%{code_key}%"
    checks: Iterable[Any] = (
        select(Function.id).where(or_(Function.code_key == code_key, cast(Function.layers, String).like(pattern))),
        select(FunctionVersion.id).where(
            or_(FunctionVersion.code_key == code_key, cast(FunctionVersion.layers, String).like(pattern))
        ),
        select(LayerVersion.id).where(LayerVersion.code_key == code_key, LayerVersion.deleted.is_(False)),
    )
    return any(session.scalars(stmt.limit(1)).first() is not None for stmt in checks)


def function_names(session: Session, account_id: str) -> list[str]:
    """Names of every function of the account."""
    return list(session.scalars(select(Function.name).where(Function.account_id == account_id)))


# -- gradual deployments


def deployments_of(session: Session, function_id: int, limit: int = 50) -> list[Deployment]:
    return list(session.scalars(select(Deployment).where(Deployment.function_id == function_id)
                                .order_by(Deployment.id.desc()).limit(limit)))


def get_deployment(session: Session, function_id: int, deployment_id: int, lock: bool = False) -> Deployment | None:
    stmt = select(Deployment).where(Deployment.function_id == function_id, Deployment.id == deployment_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def active_deployment(session: Session, function_id: int, alias: str) -> Deployment | None:
    return session.scalar(select(Deployment).where(
        Deployment.function_id == function_id, Deployment.alias == alias,
        Deployment.status.in_(("Starting", "InProgress"))))


def deployments_in_progress(session: Session) -> list[Deployment]:
    """Every running (or starting) deployment, locked for this transaction; rows another process holds are
    skipped."""
    stmt = select(Deployment).where(Deployment.status.in_(("Starting", "InProgress"))).order_by(Deployment.id)
    if _is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def function_by_id(session: Session, function_id: int) -> Function:
    fn = session.get(Function, function_id)
    assert fn is not None, function_id  # a deployment's function: they go together (ON DELETE CASCADE)
    return fn


# -- function logs in the database (LAMINA_LOG_STORE=postgres)


def add_log_chunk(session: Session, account_id: str, group_key: str, stream: str, data: bytes, at: Any) -> None:
    session.add(LogChunk(account_id=account_id, group_key=group_key, stream=stream, data=data, created=at))


def log_chunks_after(session: Session, account_id: str, after_id: int, limit: int) -> list[LogChunk]:
    return list(session.scalars(select(LogChunk).where(LogChunk.account_id == account_id, LogChunk.id > after_id)
                                .order_by(LogChunk.id).limit(limit)))


def log_retentions(session: Session, account_id: str) -> dict[str, int]:
    rows = session.scalars(select(LogGroupSetting).where(LogGroupSetting.account_id == account_id))
    return {r.group_key: r.retention_days for r in rows}


def set_log_retention(session: Session, account_id: str, group_key: str, days: int) -> None:
    row = session.get(LogGroupSetting, (account_id, group_key))
    if row is None:
        session.add(LogGroupSetting(account_id=account_id, group_key=group_key, retention_days=days))
    else:
        row.retention_days = days


def delete_log_chunks_before(session: Session, account_id: str, group_key: str, before: Any) -> int:
    done = session.execute(delete(LogChunk).where(LogChunk.account_id == account_id, LogChunk.group_key == group_key,
                                                  LogChunk.created < before))
    return int(getattr(done, "rowcount", 0) or 0)
