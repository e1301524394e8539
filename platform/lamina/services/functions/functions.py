"""Functions: create, read, list, update code and configuration, delete; and the invoke path's resolver.

Every mutation locks the function row (``SELECT ... FOR UPDATE``) before checking ``RevisionId``, so
of two updates sent with the same RevisionId exactly one wins and the other gets 412. Committed
changes are announced to the invoke cache with ``common.changed``.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
from typing import Any

from lamina.config import Settings
from lamina.errors import InvalidParameterValueException, ResourceConflictException
from lamina.scheduler import environments
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import isolation, layers, runtime_versions, validate, versions, zips
from lamina.services.logs import streams as log_streams
from lamina.services.records import (
    CodeInput,
    ConfigInput,
    CreateFunctionInput,
    FunctionDetails,
    FunctionRecord,
    Page,
)
from lamina.services.volumes import volumes
from lamina.store import queries, triggers
from lamina.store.models import Account, Function, FunctionVersion

DEFAULTS: dict[str, Any] = {
    "description": "",
    "runtime": None,
    "handler": None,
    "image_config": None,
    "memory_size": 128,
    "timeout": 3,
    "ephemeral_storage": 512,
    "architectures": ["x86_64"],
    "environment": {},
}
MAX_PAGE = 50


def _unsupported_s3() -> InvalidParameterValueException:
    return InvalidParameterValueException(
        "lamina does not read code from S3; upload the package as ZipFile (or use ImageUri)."
    )


def _image_sha(image_uri: str) -> str:
    # Images are not inspected by the control plane; the hash identifies the reference instead.
    return base64.b64encode(hashlib.sha256(image_uri.encode()).digest()).decode()


# ConfigInput field -> its validator; the field name is also the column name.
_CONFIG_VALIDATORS = (
    ("role", validate.role), ("runtime", validate.runtime), ("handler", validate.handler),
    ("description", validate.description), ("timeout", validate.timeout), ("memory_size", validate.memory_size),
    ("environment", validate.environment), ("ephemeral_storage", validate.ephemeral_storage),
    ("architectures", validate.architectures), ("image_config", validate.image_config),
    ("vpc_config", validate.vpc_config), ("file_system_configs", validate.file_system_configs),
)


def _apply_config(values: dict[str, Any], cfg: ConfigInput) -> None:
    """Validate each given field of ``cfg`` and write it into ``values`` (column names)."""
    for name, check in _CONFIG_VALIDATORS:
        given = getattr(cfg, name)
        if given is not None:
            values[name] = check(given)
    if cfg.layers is not None:
        validate.layer_count(cfg.layers)
    if cfg.logging_config is not None:
        values["logging_config"] = validate.logging_config(cfg.logging_config)  # merged by the caller


def _check_networks(deps: Deps, account_id: str, vpc: dict[str, Any] | None) -> None:
    """Every network VpcConfig names must be one the operator opened to this account: a Docker network
    labelled ``lamina.vpc`` with the account's id (or ``*``). Any other answers the same, so a caller
    learns nothing about the host's networks."""
    names = [n for n in (vpc or {}).get("SubnetIds", []) if n != "none"]
    if not names:
        return
    for name in names:
        if not environments.network_open_to(deps.docker, name, account_id):
            raise InvalidParameterValueException(
                f"VpcConfig.SubnetIds: {name} is not a network this account may use (an operator opens one "
                f"with: docker network create --label lamina.vpc={account_id} {name})"
            )


def _check_package(package_type: str, values: dict[str, Any], cfg: ConfigInput) -> None:
    if package_type == "Zip":
        if not values.get("runtime") or not values.get("handler"):
            raise InvalidParameterValueException(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages."
            )
        if cfg.image_config is not None:
            raise InvalidParameterValueException("ImageConfig is not supported for functions of PackageType Zip.")
    else:
        if cfg.runtime is not None or cfg.handler is not None:
            raise InvalidParameterValueException(
                "Runtime and Handler are not supported for functions of PackageType Image."
            )
        if cfg.layers:
            raise InvalidParameterValueException("Layers are not supported for functions of PackageType Image.")


def _check_unzipped(settings: Settings, code_unzipped: int, layer_refs: list[dict[str, Any]]) -> None:
    total = code_unzipped + sum(int(ref.get("unzipped_size", 0)) for ref in layer_refs)
    if total > settings.max_unzipped_bytes:
        raise InvalidParameterValueException(
            f"Function code combined with layers exceeds the maximum allowed size of "
            f"{settings.max_unzipped_bytes} bytes. The actual size is {total} bytes."
        )


def _code_values(deps: Deps, package_type: str, code: CodeInput) -> tuple[dict[str, Any], zips.Archive | None]:
    """Validate the code source for ``package_type``; return its column values and the archive (zips)."""
    if code.s3:
        raise _unsupported_s3()
    if package_type == "Zip":
        if code.image_uri is not None:
            raise InvalidParameterValueException("ImageUri is not supported for functions of PackageType Zip.")
        if code.zip_file is None:
            raise InvalidParameterValueException("Please provide a source for function code: Code.ZipFile.")
        archive = zips.inspect(code.zip_file, zips.Limits.from_settings(deps.settings))
        return {
            "image_uri": None, "code_sha256": archive.sha256, "code_size": archive.size,
            "unzipped_size": archive.unzipped_size, "code_key": archive.key,
        }, archive
    if code.zip_file is not None:
        raise InvalidParameterValueException("ZipFile is not supported for functions of PackageType Image.")
    if code.image_uri is None:
        raise InvalidParameterValueException("Please provide ImageUri for a function of PackageType Image.")
    uri = validate.image_uri(code.image_uri)
    return {"image_uri": uri, "code_sha256": _image_sha(uri), "code_size": 0, "unzipped_size": 0,
            "code_key": None}, None


def create_function(deps: Deps, account_id: str, req: CreateFunctionInput) -> FunctionRecord:
    """CreateFunction: returns $LATEST's configuration, or version 1's when ``req.publish``.

    Raises InvalidParameterValueException (bad field or package), ResourceConflictException (name
    taken), RequestTooLargeException / CodeStorageExceededException (size). A failure leaves no row
    and no blob behind.
    """
    ref = arns.parse_function_name(req.name, deps.settings.region, account_id)
    if ref.qualifier is not None:
        raise InvalidParameterValueException("Function names cannot carry a qualifier when creating a function.")
    name = validate.function_name(ref.name)
    package_type = validate.package_type(req.package_type)
    if req.config.role is None:
        raise InvalidParameterValueException("Role is required.")
    values = copy.deepcopy(DEFAULTS)
    _apply_config(values, req.config)
    if "logging_config" in values:
        values["logging_config"] = validate.merged_logging_config(None, values["logging_config"])
    if req.config.tenancy_config is not None:
        values["tenancy_config"] = validate.tenancy_config(req.config.tenancy_config)
    _check_networks(deps, account_id, values.get("vpc_config"))
    volumes.check_configs(deps, account_id, values.get("file_system_configs"))
    _check_package(package_type, values, req.config)
    tags = validate.tags(req.tags)
    code, archive = _code_values(deps, package_type, req.code)
    with common.blob_guard(deps) as written:
        with deps.sessions.begin() as session:
            if queries.get_function(session, account_id, name) is not None:
                raise ResourceConflictException(f"Function already exist: {name}")
            layer_refs = layers.resolve_refs(deps, session, account_id, req.config.layers or [])
            _check_unzipped(deps.settings, code["unzipped_size"], layer_refs)
            common.check_quota(deps, session, account_id, code["code_size"])
            stamp = common.now()
            fn = Function(
                account_id=account_id, name=name, package_type=package_type, tags=tags,
                reserved_concurrency=None, last_version=0, created=stamp, last_modified=stamp,
                revision_id=common.new_revision(), layers=layer_refs, **values, **code,
            )
            runtime_versions.on_update(deps, fn)
            if not queries.add_unique(session, fn):
                raise ResourceConflictException(f"Function already exist: {name}")
            if archive is not None:
                written.append(common.store_blob(session, deps.code_store, archive))
            result = common.record(deps, fn, fn, None)
            if req.publish:
                version = versions.publish_in(session, fn, None)
                result = common.record(deps, fn, version, str(version.version))
    common.changed(deps, account_id, name)
    return result


def _source(deps: Deps, session: Any, fn: Function, qualifier: str | None
            ) -> tuple[Function | FunctionVersion, str | None]:
    """The row holding ``qualifier``'s configuration and the qualifier its ARN shows."""
    if qualifier is None:
        return fn, None
    if qualifier == arns.LATEST:
        return fn, arns.LATEST
    if arns.VERSION_RE.fullmatch(qualifier):
        version = queries.get_version(session, fn.id, int(qualifier))
        if version is None:
            raise common.not_found(deps.settings.region, fn.account_id, fn.name, qualifier)
        return version, qualifier
    alias = queries.get_alias(session, fn.id, qualifier)
    if alias is None:
        raise common.not_found(deps.settings.region, fn.account_id, fn.name, qualifier)
    if alias.function_version == arns.LATEST:
        return fn, qualifier
    version = queries.get_version(session, fn.id, int(alias.function_version))
    if version is None:  # cannot happen: deleting an aliased version is refused
        raise common.not_found(deps.settings.region, fn.account_id, fn.name, qualifier)
    return version, qualifier


def get_function(deps: Deps, account_id: str, function_name: str, qualifier: str | None = None) -> FunctionDetails:
    """GetFunction; ResourceNotFoundException for an unknown function or qualifier."""
    ref = arns.parse_function_name(function_name, deps.settings.region, account_id, qualifier)
    with deps.sessions() as session:
        fn = common.load_function(deps, session, account_id, ref.name)
        src, arn_qualifier = _source(deps, session, fn, ref.qualifier)
        return FunctionDetails(
            config=common.record(deps, fn, src, arn_qualifier),
            tags=dict(fn.tags),
            reserved_concurrency=fn.reserved_concurrency,
        )


def log_key(deps: Deps, account_id: str, function_name: str) -> str:
    """The log directory key of a function's log group (its LoggingConfig LogGroup's, else its name's);
    the name itself for a function that is gone (its logs outlive it)."""
    with deps.sessions.begin() as session:
        fn = queries.get_function(session, account_id, function_name)
        group = common.log_group_of(function_name, fn.logging_config if fn is not None else None)
    return log_streams.group_key(group)


def get_configuration(deps: Deps, account_id: str, function_name: str,
                      qualifier: str | None = None) -> FunctionRecord:
    """GetFunctionConfiguration."""
    return get_function(deps, account_id, function_name, qualifier).config


def list_functions(deps: Deps, account_id: str, marker: str | None = None, max_items: int | None = None,
                   all_versions: bool = False) -> Page[FunctionRecord]:
    """ListFunctions by name; with ``all_versions`` each function's $LATEST is followed by its versions.

    ``marker`` is the last name (or ``name:version``) of the previous page.
    """
    limit = min(validate.max_items(max_items, 10000, MAX_PAGE), MAX_PAGE)
    marker = marker or None
    with deps.sessions() as session:
        if not all_versions:
            fns = queries.list_functions(session, account_id, marker, limit + 1)
            items = [(fn.name, common.record(deps, fn, fn, None)) for fn in fns]
        else:
            items = _list_all_versions(deps, session, account_id, marker, limit)
    if len(items) > limit:
        return Page([r for _, r in items[:limit]], next_marker=items[limit - 1][0])
    return Page([r for _, r in items])


MAX_SEARCH_PAGE_SIZE = 100


def search_functions(deps: Deps, account_id: str, text: str | None, page: int | None,
                     page_size: int | None) -> tuple[list[FunctionRecord], int]:
    """The console's functions list: page ``page`` (from 1) of the functions whose name contains ``text``,
    and how many match in all (ListFunctions can only walk the whole list)."""
    text = (text or "").strip()
    if len(text) > 140:
        raise InvalidParameterValueException("Search must be at most 140 characters.")
    size = validate.int_range(page_size if page_size is not None else 20, "PageSize", 1, MAX_SEARCH_PAGE_SIZE)
    number = validate.int_range(page if page is not None else 1, "Page", 1, 1_000_000)
    with deps.sessions() as session:
        fns, total = queries.search_functions(session, account_id, text, (number - 1) * size, size)
        return [common.record(deps, fn, fn, None) for fn in fns], total


def _list_all_versions(deps: Deps, session: Any, account_id: str, marker: str | None,
                       limit: int) -> list[tuple[str, FunctionRecord]]:
    start: tuple[str, int] | None = None
    if marker is not None:
        name, _, ver = marker.partition(":")
        if ver not in (arns.LATEST, "") and not arns.VERSION_RE.fullmatch(ver):
            raise InvalidParameterValueException(f"Invalid marker: {marker}")
        start = (name, 0 if ver in (arns.LATEST, "") else int(ver))
    items: list[tuple[str, FunctionRecord]] = []
    batch = queries.list_functions_from(session, account_id, start[0] if start else None, MAX_PAGE)
    while batch and len(items) <= limit:
        for fn in batch:
            entries: list[tuple[int, Function | FunctionVersion]] = [(0, fn)]
            entries += [(v.version, v) for v in fn.versions]
            for num, src in entries:
                if start is not None and (fn.name, num) <= start:
                    continue
                qual = arns.LATEST if num == 0 else str(num)
                items.append((f"{fn.name}:{qual}", common.record(deps, fn, src, qual)))
                if len(items) > limit:
                    return items
        batch = queries.list_functions(session, account_id, batch[-1].name, MAX_PAGE)
    return items


def update_code(deps: Deps, account_id: str, function_name: str, code: CodeInput, *, publish: bool = False,
                dry_run: bool = False, revision_id: str | None = None,
                architectures: list[str] | None = None) -> FunctionRecord:
    """UpdateFunctionCode; with ``dry_run`` validates and answers without changing anything."""
    name = common.unqualified(deps, account_id, function_name)
    archs = validate.architectures(architectures) if architectures is not None else None
    if code.s3:
        raise _unsupported_s3()
    if (code.zip_file is None) == (code.image_uri is None):
        raise InvalidParameterValueException(
            "Please provide exactly one source for function code: ZipFile or ImageUri."
        )
    package_type = "Zip" if code.zip_file is not None else "Image"
    new_code, archive = _code_values(deps, package_type, code)
    old_key: str | None = None
    with common.blob_guard(deps) as written:
        with deps.sessions.begin() as session:
            fn = common.load_function(deps, session, account_id, name, lock=True)
            common.check_revision(fn.revision_id, revision_id)
            if fn.package_type != package_type:
                raise InvalidParameterValueException(
                    f"Please provide {'ZipFile' if fn.package_type == 'Zip' else 'ImageUri'} for a function of "
                    f"PackageType {fn.package_type}."
                )
            _check_unzipped(deps.settings, new_code["unzipped_size"], fn.layers)
            common.check_quota(deps, session, account_id, new_code["code_size"] - fn.code_size)
            if dry_run:
                current = common.record(deps, fn, fn, None)
                return dataclasses.replace(
                    current, code_sha256=new_code["code_sha256"], code_size=new_code["code_size"],
                    image_uri=new_code["image_uri"], architectures=archs or current.architectures,
                )
            old_key = fn.code_key
            for column, value in new_code.items():
                setattr(fn, column, value)
            if archs is not None:
                fn.architectures = archs
            runtime_versions.on_update(deps, fn)
            fn.revision_id = common.new_revision()
            fn.last_modified = common.now()
            if archive is not None:
                written.append(common.store_blob(session, deps.code_store, archive))
            result = common.record(deps, fn, fn, None)
            if publish:
                version = versions.publish_in(session, fn, None)
                result = common.record(deps, fn, version, str(version.version))
    if old_key != new_code["code_key"]:
        common.release(deps, [old_key])
    common.changed(deps, account_id, name)
    return result


def update_configuration(deps: Deps, account_id: str, function_name: str, cfg: ConfigInput,
                         revision_id: str | None = None) -> FunctionRecord:
    """UpdateFunctionConfiguration: changes only the fields given (Environment replaces the whole map)."""
    name = common.unqualified(deps, account_id, function_name)
    values: dict[str, Any] = {}
    _apply_config(values, cfg)
    _check_networks(deps, account_id, values.get("vpc_config"))
    volumes.check_configs(deps, account_id, values.get("file_system_configs"))
    old_layer_keys: list[str] = []
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, name, lock=True)
        common.check_revision(fn.revision_id, revision_id)
        if "logging_config" in values:
            values["logging_config"] = validate.merged_logging_config(fn.logging_config, values["logging_config"])
        merged = {"runtime": fn.runtime, "handler": fn.handler, **values}
        if fn.package_type == "Image":
            _check_package("Image", merged, cfg)
        elif cfg.image_config is not None:
            raise InvalidParameterValueException("ImageConfig is not supported for functions of PackageType Zip.")
        if cfg.layers is not None:
            refs = layers.resolve_refs(deps, session, account_id, cfg.layers)
            _check_unzipped(deps.settings, fn.unzipped_size, refs)
            old_layer_keys = [ref["code_key"] for ref in fn.layers]
            values["layers"] = refs
        for column, value in values.items():
            setattr(fn, column, value)
        runtime_versions.on_update(deps, fn)
        fn.revision_id = common.new_revision()
        fn.last_modified = common.now()
        result = common.record(deps, fn, fn, None)
    common.release(deps, old_layer_keys)
    common.changed(deps, account_id, name)
    return result


def _blob_keys(src: Function | FunctionVersion) -> list[str | None]:
    return [src.code_key, *(ref.get("code_key") for ref in src.layers)]


def delete_function(deps: Deps, account_id: str, function_name: str, qualifier: str | None = None) -> None:
    """DeleteFunction: the whole function (versions, aliases and all), or one published version.

    Raises ResourceConflictException when an alias still points at that version, and
    InvalidParameterValueException for $LATEST or an alias as the qualifier.
    """
    ref = arns.parse_function_name(function_name, deps.settings.region, account_id, qualifier)
    keys: list[str | None] = []
    with deps.sessions.begin() as session:
        fn = common.load_function(deps, session, account_id, ref.name, lock=True)
        if ref.qualifier is None:
            keys += _blob_keys(fn)
            for version in fn.versions:
                keys += _blob_keys(version)
            queries.delete_obj(session, fn)
        elif ref.qualifier == arns.LATEST:
            raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
        elif not arns.VERSION_RE.fullmatch(ref.qualifier):
            raise InvalidParameterValueException(
                "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias."
            )
        else:
            doomed = queries.get_version(session, fn.id, int(ref.qualifier))
            if doomed is None:
                raise common.not_found(deps.settings.region, account_id, fn.name, ref.qualifier)
            users = sorted(
                a.name for a in queries.all_aliases(session, fn.id)
                if a.function_version == ref.qualifier or ref.qualifier in (a.routing or {})
            )
            if users:
                raise ResourceConflictException(
                    f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]"
                )
            keys += _blob_keys(doomed)
            queries.delete_event_invoke_configs(session, fn.id, ref.qualifier)
            triggers.delete_for_qualifier(session, fn.id, ref.qualifier)
            queries.delete_obj(session, doomed)
    common.release(deps, keys)
    common.deleted(deps, account_id, ref.name, ref.qualifier)


def code_in_use(session_factory: queries.SessionFactory) -> tuple[set[str], set[str]]:
    """The extracted code function versions need: (code keys, digests of their layer lists), as
    ``lamina.executor.code`` names the directories under ``tasks/`` and ``opt/``."""
    with session_factory() as session:
        refs = queries.code_references(session)
    tasks = {key for key, _layers in refs if key}
    opts: set[str] = set()
    for _key, layer_refs in refs:
        layer_keys = [str(ref["code_key"]) for ref in layer_refs if isinstance(ref, dict) and ref.get("code_key")]
        if layer_keys:
            opts.add(environments.layers_digest(layer_keys))
    return tasks, opts


def resolve_for_invoke(session_factory: queries.SessionFactory, account_id: str, function_name: str,
                       qualifier: str | None, *, region: str = Settings.region) -> dict[str, Any]:
    """What the invoke path needs to run ``function_name`` at ``qualifier``, as a JSON-ready dict.

    For an alias, the configuration is that of the alias's primary ``version``; ``alias`` names it and
    ``routing`` maps the one additional version to its weight (resolve that version separately).
    Raises ResourceNotFoundException for an unknown function, version or alias.
    """
    ref = arns.parse_function_name(function_name, region, account_id, qualifier)
    qual = ref.qualifier or arns.LATEST
    with session_factory() as session:
        fn = queries.get_function(session, account_id, ref.name)
        if fn is None:
            raise common.not_found(region, account_id, ref.name)
        alias = None
        src: Function | FunctionVersion = fn
        version = arns.LATEST
        if qual != arns.LATEST and arns.VERSION_RE.fullmatch(qual):
            found = queries.get_version(session, fn.id, int(qual))
            if found is None:
                raise common.not_found(region, account_id, fn.name, qual)
            src, version = found, qual
        elif qual != arns.LATEST:
            alias = queries.get_alias(session, fn.id, qual)
            if alias is None:
                raise common.not_found(region, account_id, fn.name, qual)
            version = alias.function_version
            if version != arns.LATEST:
                found = queries.get_version(session, fn.id, int(version))
                if found is None:
                    raise common.not_found(region, account_id, fn.name, qual)
                src = found
        eic = queries.get_event_invoke_config(session, fn.id, qual)
        pc = queries.get_provisioned_config(session, fn.id, qual) if ref.qualifier else None
        sandbox = isolation.effective(isolation.of_account(session.get(Account, account_id)), fn.isolation)
        # Auto runs the runtime's current image (its tag); the other modes the recorded one, by id.
        pinned = (runtime_versions.image_of(src.runtime_version_arn)
                  if (fn.runtime_update_mode or "Auto") != "Auto" and src.package_type != "Image" else None)
        env_revision = src.revision_id + (f"+{sandbox}" if sandbox != isolation.CONTAINER else "") + (
            f"@{pinned[7:19]}" if pinned else "")
        return {
            "account_id": account_id,
            "function_name": fn.name,
            "function_arn": arns.function_arn(region, account_id, fn.name),
            "qualified_arn": arns.function_arn(region, account_id, fn.name, version),
            "invoked_arn": arns.function_arn(region, account_id, fn.name, ref.qualifier),
            "version": version,
            "alias": alias.name if alias is not None else None,
            "routing": {str(k): float(v) for k, v in (alias.routing or {}).items()} if alias is not None else {},
            # What environments run: a change of configuration or of sandbox retires the warm ones.
            "revision_id": env_revision,
            "isolation": sandbox,
            "runtime_image": pinned,
            "role": src.role,
            "runtime": src.runtime,
            "handler": src.handler,
            "package_type": src.package_type,
            "image_uri": src.image_uri,
            "image_config": dict(src.image_config) if src.image_config else None,
            "vpc_config": dict(src.vpc_config) if src.vpc_config else None,
            "file_system_configs": [dict(c) for c in src.file_system_configs or ()],
            "logging_config": dict(src.logging_config) if src.logging_config else None,
            "log_group": common.log_group_of(fn.name, src.logging_config),
            "log_key": log_streams.group_key(common.log_group_of(fn.name, src.logging_config)),
            "tenant_isolation": bool(src.tenancy_config),
            "recursive_loop": fn.recursive_loop or "Terminate",
            "memory_size": src.memory_size,
            "timeout": src.timeout,
            "ephemeral_storage": src.ephemeral_storage,
            "architectures": list(src.architectures),
            "environment": dict(src.environment),
            "layers": [
                {"arn": r["arn"], "code_key": r["code_key"], "code_sha256": r["code_sha256"]} for r in src.layers
            ],
            "code_key": src.code_key,
            "code_sha256": src.code_sha256,
            "reserved_concurrency": fn.reserved_concurrency,
            # Provisioned concurrency of the qualifier invoked (its invocations count as spillover or not).
            "provisioned_concurrency": pc.requested if pc is not None else None,
            "event_invoke_config": {
                "maximum_retry_attempts": eic.maximum_retry_attempts,
                "maximum_event_age_s": eic.maximum_event_age_s,
                "on_success": (eic.destination_config or {}).get("on_success"),
                "on_failure": (eic.destination_config or {}).get("on_failure"),
            } if eic is not None else None,
        }

