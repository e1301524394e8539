"""Layers: publish, read, list and delete layer versions; resolve the layer ARNs functions reference.

A deleted layer version disappears from Get/List at once, but its blob stays while any function or
version still uses it (functions keep ``code_key`` per layer), and its number is never reused.
"""

from __future__ import annotations

from typing import Any

from lamina.errors import InvalidParameterValueException, ResourceNotFoundException
from lamina.services import arns, common
from lamina.services.common import Deps
from lamina.services.functions import validate, zips
from lamina.services.records import LayerRecord, LayerVersionInput, LayerVersionRecord, Page
from lamina.store import queries
from lamina.store.models import Layer, LayerVersion

MAX_PAGE = 50


PUBLIC_LAYER_ACCOUNT = arns.PUBLIC_LAYER_ACCOUNT


def _record(deps: Deps, layer: Layer, lv: LayerVersion) -> LayerVersionRecord:
    region = deps.settings.region
    return LayerVersionRecord(
        layer_name=layer.name,
        layer_arn=arns.layer_arn(region, layer.account_id, layer.name),
        layer_version_arn=arns.layer_arn(region, layer.account_id, layer.name, lv.version),
        version=lv.version,
        description=lv.description,
        created=lv.created,
        compatible_runtimes=list(lv.compatible_runtimes),
        compatible_architectures=list(lv.compatible_architectures),
        license_info=lv.license_info,
        code_sha256=lv.code_sha256,
        code_size=lv.code_size,
        code_key=lv.code_key,
    )


def resolve_refs(deps: Deps, session: Any, account_id: str, layer_arns: list[str]) -> list[dict[str, Any]]:
    """The stored references for a function's Layers (in order); InvalidParameterValueException for
    more than 5, or for an ARN that is not an existing, live layer version."""
    validate.layer_count(layer_arns)
    refs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for arn in layer_arns:
        # A public layer (layers/, e.g. Powertools at AWS's own ARN) is readable from every account.
        owner = PUBLIC_LAYER_ACCOUNT if arns.layer_version_owner(arn) == PUBLIC_LAYER_ACCOUNT else account_id
        name, version = arns.parse_layer_version_arn(arn, deps.settings.region, owner)
        if name in seen:
            raise InvalidParameterValueException(
                "Two different versions of the same layer are not allowed to be referenced in the same function."
            )
        seen.add(name)
        lv = queries.get_layer_version(session, owner, name, version)
        if lv is None:
            raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
        refs.append({
            "arn": arns.layer_arn(deps.settings.region, owner, name, version),
            "code_key": lv.code_key,
            "code_sha256": lv.code_sha256,
            "code_size": lv.code_size,
            "unzipped_size": lv.unzipped_size,
        })
    return refs


def publish_layer_version(deps: Deps, account_id: str, layer_name: str, req: LayerVersionInput) -> LayerVersionRecord:
    """PublishLayerVersion: numbers start at 1 and are never reused."""
    name = arns.parse_layer_name(layer_name, deps.settings.region, account_id)
    validate.description(req.description)
    if req.license_info is not None:
        validate.max_len(req.license_info, "licenseInfo", 512)
    runtimes = validate.compatible_runtimes(req.compatible_runtimes)
    architectures = validate.compatible_architectures(req.compatible_architectures)
    if req.s3:
        raise InvalidParameterValueException("lamina does not read layer content from S3; upload Content.ZipFile.")
    if req.zip_file is None:
        raise InvalidParameterValueException("Please provide a source for the layer content: Content.ZipFile.")
    archive = zips.inspect(req.zip_file, zips.Limits.from_settings(deps.settings))
    with common.blob_guard(deps) as written:
        with deps.sessions.begin() as session:
            layer = queries.get_layer(session, account_id, name, lock=True)
            if layer is None:
                # False means a concurrent first publish created it; either way lock the row that exists.
                queries.add_unique(session, Layer(account_id=account_id, name=name, last_version=0))
                layer = queries.get_layer(session, account_id, name, lock=True)
                assert layer is not None
            common.check_quota(deps, session, account_id, archive.size)
            layer.last_version += 1
            lv = LayerVersion(
                layer_id=layer.id, version=layer.last_version, description=req.description,
                compatible_runtimes=runtimes, compatible_architectures=architectures,
                license_info=req.license_info, code_sha256=archive.sha256, code_size=archive.size,
                unzipped_size=archive.unzipped_size, code_key=archive.key, created=common.now(), deleted=False,
            )
            session.add(lv)
            session.flush()
            written.append(common.store_blob(session, deps.code_store, archive))
            return _record(deps, layer, lv)


def _version_number(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and arns.VERSION_RE.fullmatch(value):
        return int(value)
    raise InvalidParameterValueException(f"Invalid layer version number: {value!r}")


def _not_found(deps: Deps, account_id: str, name: str, version: int) -> ResourceNotFoundException:
    arn = arns.layer_arn(deps.settings.region, account_id, name, version)
    return ResourceNotFoundException(f"The resource you requested does not exist: {arn}")


def get_layer_version(deps: Deps, account_id: str, layer_name: str, version: int | str) -> LayerVersionRecord:
    """GetLayerVersion; ResourceNotFoundException if missing or deleted."""
    name = arns.parse_layer_name(layer_name, deps.settings.region, account_id)
    number = _version_number(version)
    with deps.sessions() as session:
        lv = queries.get_layer_version(session, account_id, name, number)
        if lv is None:
            raise _not_found(deps, account_id, name, number)
        return _record(deps, lv.layer, lv)


def get_layer_version_by_arn(deps: Deps, account_id: str, arn: str) -> LayerVersionRecord:
    """GetLayerVersionByArn."""
    name, version = arns.parse_layer_version_arn(arn, deps.settings.region, account_id)
    return get_layer_version(deps, account_id, name, version)


def _matches(lv: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    return (runtime is None or runtime in lv.compatible_runtimes) and (
        architecture is None or architecture in lv.compatible_architectures
    )


def _filters(runtime: str | None, architecture: str | None) -> None:
    if runtime is not None:
        validate.runtime(runtime)
    if architecture is not None:
        validate.compatible_architectures([architecture])


def list_layers(deps: Deps, account_id: str, compatible_runtime: str | None = None,
                compatible_architecture: str | None = None, marker: str | None = None,
                max_items: int | None = None) -> Page[LayerRecord]:
    """ListLayers: each layer with its newest live version matching the filters (layers with none are left out)."""
    _filters(compatible_runtime, compatible_architecture)
    limit = validate.max_items(max_items, 50, MAX_PAGE)
    out: list[LayerRecord] = []
    with deps.sessions() as session:
        after = marker or None
        while len(out) <= limit:
            batch = queries.list_layers(session, [account_id, PUBLIC_LAYER_ACCOUNT], after, MAX_PAGE)
            if not batch:
                break
            for layer in batch:
                latest = next(
                    (lv for lv in reversed(layer.versions)
                     if not lv.deleted and _matches(lv, compatible_runtime, compatible_architecture)),
                    None,
                )
                if latest is not None:
                    rec = _record(deps, layer, latest)
                    out.append(LayerRecord(name=layer.name, arn=rec.layer_arn, latest=rec))
                    if len(out) > limit:
                        break
            after = batch[-1].name
    if len(out) > limit:
        return Page(out[:limit], next_marker=out[limit - 1].name)
    return Page(out)


def list_layer_versions(deps: Deps, account_id: str, layer_name: str, compatible_runtime: str | None = None,
                        compatible_architecture: str | None = None, marker: str | None = None,
                        max_items: int | None = None) -> Page[LayerVersionRecord]:
    """ListLayerVersions, newest first; an unknown layer has no versions. ``marker`` = last version seen."""
    name = arns.parse_layer_name(layer_name, deps.settings.region, account_id)
    _filters(compatible_runtime, compatible_architecture)
    limit = validate.max_items(max_items, 50, MAX_PAGE)
    before = _version_number(marker) if marker else None
    with deps.sessions() as session:
        layer = queries.get_layer(session, account_id, name)
        if layer is None:
            return Page([])
        out = [
            _record(deps, layer, lv)
            for lv in layer.versions[::-1]
            if not lv.deleted and (before is None or lv.version < before)
            and _matches(lv, compatible_runtime, compatible_architecture)
        ]
    if len(out) > limit:
        return Page(out[:limit], next_marker=str(out[limit - 1].version))
    return Page(out)


def delete_layer_version(deps: Deps, account_id: str, layer_name: str, version: int | str) -> None:
    """DeleteLayerVersion; deleting a missing or already deleted version succeeds (as on Lambda)."""
    name = arns.parse_layer_name(layer_name, deps.settings.region, account_id)
    number = _version_number(version)
    with deps.sessions.begin() as session:
        lv = queries.get_layer_version(session, account_id, name, number)
        if lv is None:
            return
        lv.deleted = True
        key = lv.code_key
    common.release(deps, [key])
