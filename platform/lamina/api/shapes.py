"""Lambda's PascalCase JSON <-> lamina's records: the only module that knows wire names.

Parsing is strict about JSON types (a string where a number belongs is InvalidParameterValueException,
a body that is not a JSON object is InvalidRequestContentException) and ignores unknown members, as
Lambda does. Rendering always reports ``State: Active`` and ``LastUpdateStatus: Successful`` so waiters
finish, and formats times as Lambda does (``2020-04-10T19:06:32.563+0000``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from lamina.errors import InvalidParameterValueException, InvalidRequestContentException
from lamina.services.records import (
    AccountSettingsRecord,
    AliasRecord,
    CodeInput,
    ConfigInput,
    CreateFunctionInput,
    EventInvokeInput,
    EventInvokeRecord,
    FunctionDetails,
    FunctionRecord,
    LayerRecord,
    LayerVersionInput,
    LayerVersionRecord,
    Page,
)

T = TypeVar("T")


# -- parsing


def parse_json(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidRequestContentException(f"Could not parse request body into json: {err}") from None
    except RecursionError:
        # Thousands of nested arrays/objects exhaust the decoder's stack: hostile, not a server fault.
        raise InvalidRequestContentException("Could not parse request body into json: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidRequestContentException("Could not parse request body into json: expected a JSON object")
    return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def check_no_nul(pairs: Iterable[tuple[str, Any]]) -> None:
    """InvalidParameterValueException if any path label or query value holds a NUL character."""
    for key, value in pairs:
        if "\x00" in key or "\x00" in str(value):
            raise InvalidParameterValueException(f"{key} must not contain NUL characters")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not 1


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Reader:
    """Typed access to the members of one JSON object; ``path`` names it in error messages."""

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        self.data = data
        self.path = path

    def _name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _wrong(self, key: str, what: str) -> InvalidParameterValueException:
        return InvalidParameterValueException(f"{self._name(key)} must be {what}")

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            raise InvalidParameterValueException(f"{self._name(key)} is required")
        if _has_nul(value):
            # PostgreSQL cannot store NUL in text, and no Lambda field allows it.
            raise InvalidParameterValueException(f"{self._name(key)} must not contain NUL characters")
        return value

    def _typed(self, key: str, required: bool, is_ok: Callable[[Any], bool], what: str) -> Any:
        """The member ``key`` (None when absent) if ``is_ok`` accepts it; else the error naming ``what``."""
        value = self._get(key, required)
        if value is not None and not is_ok(value):
            raise self._wrong(key, what)
        return value

    def string(self, key: str, required: bool = False) -> str | None:
        return self._typed(key, required, lambda v: isinstance(v, str), "a string")

    def integer(self, key: str, required: bool = False) -> int | None:
        return self._typed(key, required, _is_int, "an integer")

    def boolean(self, key: str) -> bool | None:
        return self._typed(key, False, lambda v: isinstance(v, bool), "a boolean")

    def obj(self, key: str, required: bool = False) -> Reader | None:
        value = self._typed(key, required, lambda v: isinstance(v, dict), "an object")
        return None if value is None else Reader(value, self._name(key))

    def strings(self, key: str) -> list[str] | None:
        return self._typed(key, False, lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                           "a list of strings")

    def string_map(self, key: str, required: bool = False) -> dict[str, str] | None:
        return self._typed(key, required, lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                           "a map of strings to strings")

    def number_map(self, key: str) -> dict[str, float] | None:
        return self._typed(key, False, lambda v: isinstance(v, dict) and all(_is_number(x) for x in v.values()),
                           "a map of strings to numbers")

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def blob(self, key: str) -> bytes | None:
        value = self.string(key)
        if value is None:
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValueException(f"{self._name(key)} is not valid base64") from None


def query_int(args: Mapping[str, str], key: str) -> int | None:
    value = args.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidParameterValueException(f"{key} must be an integer, got {value!r}") from None


# CreateFunction / UpdateFunctionConfiguration members lamina implements, and those it accepts only with
# the value that means "off" (what tools send by default); anything else is refused by name.
_CONFIG_MEMBERS = {"Role", "Runtime", "Handler", "Description", "Timeout", "MemorySize", "Environment", "Layers",
                   "EphemeralStorage", "Architectures", "ImageConfig", "VpcConfig", "FileSystemConfigs",
                   "LoggingConfig"}
_CREATE_MEMBERS = _CONFIG_MEMBERS | {"FunctionName", "Code", "PackageType", "Publish", "Tags", "TenancyConfig"}
UPDATE_MEMBERS = _CONFIG_MEMBERS | {"RevisionId"}
_NEUTRAL: dict[str, Callable[[Any], bool]] = {
    "TracingConfig": lambda v: isinstance(v, dict) and v.get("Mode", "PassThrough") == "PassThrough"
    and set(v) <= {"Mode"},
    "SnapStart": lambda v: isinstance(v, dict) and v.get("ApplyOn", "None") == "None" and set(v) <= {"ApplyOn"},
    "DeadLetterConfig": lambda v: isinstance(v, dict) and not v.get("TargetArn") and set(v) <= {"TargetArn"},
    "KMSKeyArn": lambda v: v in (None, ""),
    "CodeSigningConfigArn": lambda v: v in (None, ""),
}


def check_members(body: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse a member lamina does not implement (naming it), rather than accept and drop it."""
    for member, value in body.items():
        if member in allowed:
            continue
        neutral = _NEUTRAL.get(member)
        if neutral is not None and neutral(value):
            continue
        raise InvalidParameterValueException(
            f"{member} is not supported by lamina" + (" with this value" if neutral is not None else "") + "."
        )


def config_input(r: Reader) -> ConfigInput:
    env = r.obj("Environment")
    storage = r.obj("EphemeralStorage")
    image_config = r.obj("ImageConfig")
    vpc = r.obj("VpcConfig")
    file_systems = r.raw("FileSystemConfigs")
    logging = r.obj("LoggingConfig")
    tenancy = r.obj("TenancyConfig")
    return ConfigInput(
        role=r.string("Role"),
        runtime=r.string("Runtime"),
        handler=r.string("Handler"),
        description=r.string("Description"),
        timeout=r.integer("Timeout"),
        memory_size=r.integer("MemorySize"),
        environment=(env.string_map("Variables") or {}) if env is not None else None,
        layers=r.strings("Layers"),
        ephemeral_storage=storage.integer("Size", required=True) if storage is not None else None,
        architectures=r.strings("Architectures"),
        image_config=dict(image_config.data) if image_config is not None else None,
        vpc_config=dict(vpc.data) if vpc is not None else None,
        file_system_configs=file_systems,
        logging_config=dict(logging.data) if logging is not None else None,
        tenancy_config=dict(tenancy.data) if tenancy is not None else None,
    )


def _code_input(r: Reader) -> CodeInput:
    return CodeInput(
        zip_file=r.blob("ZipFile"),
        image_uri=r.string("ImageUri"),
        s3=any(r.string(k) is not None for k in ("S3Bucket", "S3Key", "S3ObjectVersion")),
    )


def create_function_input(body: dict[str, Any]) -> CreateFunctionInput:
    check_members(body, _CREATE_MEMBERS)
    r = Reader(body)
    code = r.obj("Code", required=True)
    assert code is not None
    return CreateFunctionInput(
        name=r.string("FunctionName", required=True) or "",
        code=_code_input(code),
        config=config_input(r),
        package_type=r.string("PackageType") or "Zip",
        publish=bool(r.boolean("Publish")),
        tags=r.string_map("Tags") or {},
    )


def update_code_input(body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``services.functions.update_code``."""
    r = Reader(body)
    return {
        "code": _code_input(r),
        "publish": bool(r.boolean("Publish")),
        "dry_run": bool(r.boolean("DryRun")),
        "revision_id": r.string("RevisionId"),
        "architectures": r.strings("Architectures"),
    }


def routing_input(r: Reader) -> dict[str, float] | None:
    routing = r.obj("RoutingConfig")
    if routing is None:
        return None
    return routing.number_map("AdditionalVersionWeights") or {}


def layer_version_input(body: dict[str, Any]) -> LayerVersionInput:
    r = Reader(body)
    content = r.obj("Content", required=True)
    assert content is not None
    return LayerVersionInput(
        zip_file=content.blob("ZipFile"),
        s3=any(content.string(k) is not None for k in ("S3Bucket", "S3Key", "S3ObjectVersion")),
        description=r.string("Description") or "",
        compatible_runtimes=r.strings("CompatibleRuntimes") or [],
        compatible_architectures=r.strings("CompatibleArchitectures") or [],
        license_info=r.string("LicenseInfo"),
    )


def event_invoke_input(body: dict[str, Any]) -> EventInvokeInput:
    r = Reader(body)
    dest = r.obj("DestinationConfig")
    on_success = dest.obj("OnSuccess") if dest is not None else None
    on_failure = dest.obj("OnFailure") if dest is not None else None
    return EventInvokeInput(
        maximum_retry_attempts=r.integer("MaximumRetryAttempts"),
        maximum_event_age_s=r.integer("MaximumEventAgeInSeconds"),
        on_success=on_success.string("Destination") if on_success is not None else None,
        on_failure=on_failure.string("Destination") if on_failure is not None else None,
    )


# -- rendering


def time_str(dt: datetime) -> str:
    """Lambda's timestamp strings: ``2020-04-10T19:06:32.563+0000`` (UTC)."""
    dt = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def code_location(base_url: str, code_key: str) -> str:
    return f"{base_url.rstrip('/')}/lamina/code/{code_key}"


def function_configuration(rec: FunctionRecord, listing: bool = False) -> dict[str, Any]:
    """FunctionConfiguration; ``listing`` leaves out the State fields, as ListFunctions does."""
    out: dict[str, Any] = {"FunctionName": rec.name, "FunctionArn": rec.function_arn}
    if rec.runtime is not None:
        out["Runtime"] = rec.runtime
    out["Role"] = rec.role
    if rec.handler is not None:
        out["Handler"] = rec.handler
    out.update({
        "CodeSize": rec.code_size,
        "Description": rec.description,
        "Timeout": rec.timeout,
        "MemorySize": rec.memory_size,
        "LastModified": time_str(rec.last_modified),
        "CodeSha256": rec.code_sha256,
        "Version": rec.version,
    })
    if rec.environment:
        out["Environment"] = {"Variables": dict(rec.environment)}
    if rec.vpc_config:
        out["VpcConfig"] = {"SubnetIds": list(rec.vpc_config.get("SubnetIds") or []),
                            "SecurityGroupIds": list(rec.vpc_config.get("SecurityGroupIds") or []),
                            "VpcId": "lamina"}
    if rec.file_system_configs:
        out["FileSystemConfigs"] = [dict(c) for c in rec.file_system_configs]
    out["TracingConfig"] = {"Mode": "PassThrough"}
    out["RevisionId"] = rec.revision_id
    if rec.layers:
        out["Layers"] = [{"Arn": layer.arn, "CodeSize": layer.code_size} for layer in rec.layers]
    if not listing:
        out.update({"State": "Active", "LastUpdateStatus": "Successful"})
    out["PackageType"] = rec.package_type
    if rec.package_type == "Image" and rec.image_config:
        out["ImageConfigResponse"] = {"ImageConfig": dict(rec.image_config)}
    if rec.runtime_version_arn:
        out["RuntimeVersionConfig"] = {"RuntimeVersionArn": rec.runtime_version_arn}
    out.update({
        "Architectures": list(rec.architectures),
        "EphemeralStorage": {"Size": rec.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", **(rec.logging_config or {}), "LogGroup": rec.log_group},
    })
    if rec.tenancy_config:
        out["TenancyConfig"] = dict(rec.tenancy_config)
    return out


def get_function_response(details: FunctionDetails, base_url: str) -> dict[str, Any]:
    rec = details.config
    if rec.package_type == "Image":
        code: dict[str, Any] = {"RepositoryType": "ECR", "ImageUri": rec.image_uri, "ResolvedImageUri": rec.image_uri}
    else:
        code = {"RepositoryType": "S3", "Location": code_location(base_url, rec.code_key or "")}
    out: dict[str, Any] = {"Configuration": function_configuration(rec), "Code": code}
    if details.tags:
        out["Tags"] = dict(details.tags)
    if details.reserved_concurrency is not None:
        out["Concurrency"] = {"ReservedConcurrentExecutions": details.reserved_concurrency}
    return out


def without_none(members: dict[str, Any]) -> dict[str, Any]:
    """``members`` without the ones whose value is None (Lambda leaves unset members out)."""
    return {k: v for k, v in members.items() if v is not None}


def alias_configuration(rec: AliasRecord) -> dict[str, Any]:
    return without_none({
        "AliasArn": rec.arn,
        "Name": rec.name,
        "FunctionVersion": rec.function_version,
        "Description": rec.description,
        "RevisionId": rec.revision_id,
        "RoutingConfig": {"AdditionalVersionWeights": dict(rec.routing)} if rec.routing else None,
    })


def _layer_version_common(rec: LayerVersionRecord) -> dict[str, Any]:
    return without_none({
        "LayerVersionArn": rec.layer_version_arn,
        "Version": rec.version,
        "Description": rec.description,
        "CreatedDate": time_str(rec.created),
        "CompatibleRuntimes": list(rec.compatible_runtimes),
        "CompatibleArchitectures": list(rec.compatible_architectures),
        "LicenseInfo": rec.license_info,
    })


def layer_version(rec: LayerVersionRecord, base_url: str) -> dict[str, Any]:
    """PublishLayerVersion / GetLayerVersion response."""
    return {
        "Content": {
            "Location": code_location(base_url, rec.code_key),
            "CodeSha256": rec.code_sha256,
            "CodeSize": rec.code_size,
        },
        "LayerArn": rec.layer_arn,
        **_layer_version_common(rec),
    }


def layer_versions_list_item(rec: LayerVersionRecord) -> dict[str, Any]:
    return _layer_version_common(rec)


def layers_list_item(rec: LayerRecord) -> dict[str, Any]:
    return {"LayerName": rec.name, "LayerArn": rec.arn, "LatestMatchingVersion": _layer_version_common(rec.latest)}


def event_invoke_config(rec: EventInvokeRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"LastModified": rec.last_modified.timestamp(), "FunctionArn": rec.function_arn}
    if rec.maximum_retry_attempts is not None:
        out["MaximumRetryAttempts"] = rec.maximum_retry_attempts
    if rec.maximum_event_age_s is not None:
        out["MaximumEventAgeInSeconds"] = rec.maximum_event_age_s
    out["DestinationConfig"] = {
        "OnSuccess": {"Destination": rec.on_success} if rec.on_success else {},
        "OnFailure": {"Destination": rec.on_failure} if rec.on_failure else {},
    }
    return out


def account_settings(rec: AccountSettingsRecord) -> dict[str, Any]:
    return {
        "AccountLimit": {
            "TotalCodeSize": rec.total_code_size_limit,
            "CodeSizeUnzipped": rec.code_size_unzipped_limit,
            "CodeSizeZipped": rec.code_size_zipped_limit,
            "ConcurrentExecutions": rec.concurrent_executions,
            "UnreservedConcurrentExecutions": rec.unreserved_concurrent_executions,
        },
        "AccountUsage": {"TotalCodeSize": rec.total_code_size, "FunctionCount": rec.function_count},
    }


def provisioned_config(record: dict[str, Any], listing: bool) -> dict[str, Any]:
    """A provisioned concurrency configuration; listed ones carry their FunctionArn."""
    out = {k: v for k, v in record.items() if listing or k != "FunctionArn"}
    out["LastModified"] = time_str(record["LastModified"])
    return out


def page(key: str, pg: Page[T], render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A list response: ``{key: [...], "NextMarker": ...}`` (NextMarker only when there is more)."""
    out: dict[str, Any] = {key: [render(item) for item in pg.items]}
    if pg.next_marker:
        out["NextMarker"] = pg.next_marker
    return out


def concurrency(reserved: int | None) -> dict[str, Any]:
    return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}
