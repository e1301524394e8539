"""Field rules of the Lambda API: each check returns the value or raises InvalidParameterValueException.

Messages follow Lambda's "1 validation error detected: Value ... at ... failed to satisfy constraint"
form where Lambda uses it. botocore checks only required fields and minimums client-side, so every
maximum, pattern and enum is enforced here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lamina import runtimes
from lamina.errors import InvalidParameterValueException

ROLE_RE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
HANDLER_RE = re.compile(r"[^\s]+")
ENV_NAME_RE = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
ALIAS_RE = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9_-]+)")
IMAGE_URI_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._/:@+-]*")
DESTINATION_RE = re.compile(
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
)
ARCHITECTURES = ("x86_64", "arm64")
PACKAGE_TYPES = ("Zip", "Image")
MAX_ENV_BYTES = 4096
MAX_LAYERS = 5
MAX_TAGS = 50
# Variables the platform sets for every runtime; Lambda refuses them in a function's configuration.
RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
RESERVED_ENV_PREFIXES = ("LAMINA_",)


def invalid(message: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(message)


def constraint(value: Any, field: str, rule: str) -> InvalidParameterValueException:
    return invalid(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {rule}"
    )


def int_range(value: int, field: str, low: int, high: int) -> int:
    if value < low:
        raise constraint(value, field, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise constraint(value, field, f"Member must have value less than or equal to {high}")
    return value


def max_len(value: str, field: str, high: int, low: int = 0) -> str:
    if len(value) > high:
        raise constraint(value, field, f"Member must have length less than or equal to {high}")
    if len(value) < low:
        raise constraint(value, field, f"Member must have length greater than or equal to {low}")
    return value


def pattern(value: str, field: str, regex: re.Pattern[str]) -> str:
    if not regex.fullmatch(value):
        raise constraint(value, field, f"Member must satisfy regular expression pattern: {regex.pattern}")
    return value


def function_name(name: str) -> str:
    max_len(name, "functionName", 64, 1)
    return pattern(name, "functionName", re.compile(r"[a-zA-Z0-9_-]+"))


def role(value: str) -> str:
    return pattern(max_len(value, "role", 2048), "role", ROLE_RE)


def runtime(value: str) -> str:
    if not runtimes.is_supported(value):
        raise invalid(
            f"Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(runtimes.SUPPORTED)}] or be a valid ARN"
        )
    return value


def handler(value: str) -> str:
    return pattern(max_len(value, "handler", 128), "handler", HANDLER_RE)


def description(value: str, field: str = "description") -> str:
    return max_len(value, field, 256)


def memory_size(value: int) -> int:
    return int_range(value, "memorySize", 128, 10240)


def timeout(value: int) -> int:
    return int_range(value, "timeout", 1, 900)


def ephemeral_storage(value: int) -> int:
    return int_range(value, "ephemeralStorage.size", 512, 10240)


def architectures(value: list[str]) -> list[str]:
    if len(value) != 1:
        raise constraint(value, "architectures", "Member must have length less than or equal to 1")
    if value[0] not in ARCHITECTURES:
        raise constraint(value, "architectures", "Member must satisfy enum value set: [x86_64, arm64]")
    return list(value)


def package_type(value: str) -> str:
    if value not in PACKAGE_TYPES:
        raise constraint(value, "packageType", "Member must satisfy enum value set: [Zip, Image]")
    return value


def environment(variables: Mapping[str, str]) -> dict[str, str]:
    for name in variables:
        if not ENV_NAME_RE.fullmatch(name):
            raise constraint("[" + name + "]", "environment.variables",
                             "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+")
        if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
            raise invalid(
                f"Lambda was unable to configure your environment variables because the environment variables "
                f"you have provided contains reserved keys that are currently not supported for modification. "
                f"Reserved keys used in this request: {name}"
            )
    size = len(json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_ENV_BYTES:
        raise invalid(
            f"Lambda was unable to configure your environment variables because the environment variables "
            f"you have provided exceeded the 4KB limit. String measured: {size} bytes"
        )
    return dict(variables)


def layer_count(arns: list[str]) -> list[str]:
    if len(arns) > MAX_LAYERS:
        raise invalid(f"Cannot reference more than {MAX_LAYERS} layers.")
    if len(set(arns)) != len(arns):
        raise invalid("Two different versions of the same layer are not allowed to be referenced in the same "
                      "function.")
    return arns


def image_uri(value: str) -> str:
    return pattern(max_len(value, "imageUri", 512, 1), "imageUri", IMAGE_URI_RE)


def image_config(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("EntryPoint", "Command"):
        items = value.get(key)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or len(items) > 1500:
            raise invalid(f"ImageConfig.{key} must be a list of at most 1500 strings")
        out[key] = list(items)
    wd = value.get("WorkingDirectory")
    if wd is not None:
        if not isinstance(wd, str) or len(wd) > 1000:
            raise invalid("ImageConfig.WorkingDirectory must be a string of at most 1000 characters")
        out["WorkingDirectory"] = wd
    return out


NETWORK_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")


def vpc_config(value: Mapping[str, Any]) -> dict[str, Any] | None:
    """VpcConfig: SubnetIds name Docker networks (at most 16), or are exactly ["none"]; SecurityGroupIds
    (at most 5) are kept for tools that round-trip them. No SubnetIds: the default network (None)."""
    if not isinstance(value, Mapping):
        raise invalid("VpcConfig must be an object")
    out: dict[str, Any] = {}
    for key, most in (("SubnetIds", 16), ("SecurityGroupIds", 5)):
        items = value.get(key) or []
        if not isinstance(items, list) or len(items) > most or not all(
                isinstance(i, str) and NETWORK_RE.fullmatch(i) for i in items):
            raise invalid(f"VpcConfig.{key} must be a list of at most {most} names of [a-zA-Z0-9_.-] (1-128)")
        out[key] = list(dict.fromkeys(items))
    subnets = out["SubnetIds"]
    if "none" in subnets and len(subnets) > 1:
        raise invalid("VpcConfig.SubnetIds [\"none\"] (no network) cannot be combined with networks")
    if "host" in subnets:
        raise invalid("VpcConfig.SubnetIds cannot name the host network")
    return out if subnets else None


ACCESS_POINT_RE = re.compile(
    r"arn:aws[a-zA-Z-]*:elasticfilesystem:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):access-point/"
    r"(?P<name>[a-zA-Z0-9][a-zA-Z0-9_-]{0,63})"
)
MOUNT_PATH_RE = re.compile(r"/mnt/[a-zA-Z0-9._-]{1,155}")


def file_system_configs(value: Any) -> list[dict[str, str]] | None:
    """FileSystemConfigs: at most one {Arn (an access point: a lamina volume), LocalMountPath under /mnt/}.
    An empty list removes it (None)."""
    if not isinstance(value, list):
        raise invalid("FileSystemConfigs must be a list")
    if len(value) > 1:
        raise invalid("FileSystemConfigs: a function mounts at most one file system")
    out = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) != {"Arn", "LocalMountPath"}:
            raise invalid("FileSystemConfigs entries need exactly Arn and LocalMountPath")
        arn, path = item["Arn"], item["LocalMountPath"]
        if not isinstance(arn, str) or ACCESS_POINT_RE.fullmatch(arn) is None:
            raise invalid(f"1 validation error detected: Value '{arn}' at 'fileSystemConfigs.1.member.arn' failed "
                          "to satisfy constraint: Member must satisfy regular expression pattern: "
                          "arn:aws:elasticfilesystem:REGION:ACCOUNT:access-point/NAME")
        if not isinstance(path, str) or MOUNT_PATH_RE.fullmatch(path) is None:
            raise invalid(f"1 validation error detected: Value '{path}' at "
                          "'fileSystemConfigs.1.member.localMountPath' failed to satisfy constraint: Member must "
                          "satisfy regular expression pattern: ^/mnt/[a-zA-Z0-9-_.]+$")
        out.append({"Arn": arn, "LocalMountPath": path})
    return out or None


def alias_name(value: str) -> str:
    return pattern(max_len(value, "name", 128, 1), "name", ALIAS_RE)


def tags(value: Mapping[str, str]) -> dict[str, str]:
    if len(value) > MAX_TAGS:
        raise invalid(f"A resource can have at most {MAX_TAGS} tags")
    for key, val in value.items():
        max_len(key, "tags.key", 128, 1)
        max_len(val, "tags.value", 256)
        if key.lower().startswith("aws:"):
            raise invalid(f"Tag keys prefixed with 'aws:' are reserved: {key}")
    return dict(value)


def destination(value: str, field: str) -> str:
    max_len(value, field, 350)
    if value and not DESTINATION_RE.fullmatch(value):
        raise constraint(value, field, "Member must satisfy regular expression pattern: arn:...")
    return value


def compatible_runtimes(values: list[str]) -> list[str]:
    if len(values) > 15:
        raise constraint(values, "compatibleRuntimes", "Member must have length less than or equal to 15")
    for v in values:
        runtime(v)
    return list(values)


def compatible_architectures(values: list[str]) -> list[str]:
    if len(values) > 2:
        raise constraint(values, "compatibleArchitectures", "Member must have length less than or equal to 2")
    for v in values:
        if v not in ARCHITECTURES:
            raise constraint(values, "compatibleArchitectures",
                             "Member must satisfy enum value set: [x86_64, arm64]")
    return list(values)


def max_items(value: int | None, high: int, default: int) -> int:
    if value is None:
        return default
    return int_range(value, "maxItems", 1, high)


LOG_FORMATS = ("Text", "JSON")
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
LOG_GROUP_RE = re.compile(r"[.\-_/#A-Za-z0-9]+")
_LOGGING_MEMBERS = {"LogFormat": LOG_FORMATS, "ApplicationLogLevel": APPLICATION_LOG_LEVELS,
                    "SystemLogLevel": SYSTEM_LOG_LEVELS}


def logging_config(value: Any) -> dict[str, str]:
    """LoggingConfig as given (each member checked); ``merged_logging_config`` combines it with what is stored."""
    if not isinstance(value, Mapping):
        raise invalid("LoggingConfig must be an object")
    out: dict[str, str] = {}
    for member, given in value.items():
        if member == "LogGroup":
            if not isinstance(given, str):
                raise invalid("LoggingConfig.LogGroup must be a string")
            out[member] = pattern(max_len(given, "loggingConfig.logGroup", 512, 1), "loggingConfig.logGroup",
                                  LOG_GROUP_RE)
            continue
        allowed = _LOGGING_MEMBERS.get(member)
        if allowed is None:
            raise invalid(f"LoggingConfig has no member {member}")
        if given not in allowed:
            field = member[0].lower() + member[1:]
            raise invalid(f"1 validation error detected: Value '{given}' at 'loggingConfig.{field}' failed to "
                          f"satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")
        out[member] = given
    return out


def merged_logging_config(stored: Mapping[str, str] | None, given: Mapping[str, str]) -> dict[str, str] | None:
    """What a function logs with after ``given`` (a create's, or an update's over ``stored``); None = the
    defaults (Text to /aws/lambda/NAME). Levels belong to the JSON format, as on Lambda: JSON without levels
    is INFO for both; levels with Text are refused; a switch to Text drops them."""
    out = dict(stored or {})
    if given.get("LogFormat") == "Text":
        out.pop("ApplicationLogLevel", None)
        out.pop("SystemLogLevel", None)
    out.update(given)
    log_format = out.get("LogFormat", "Text")
    if log_format == "Text" and ("ApplicationLogLevel" in given or "SystemLogLevel" in given):
        raise invalid("ApplicationLogLevel and SystemLogLevel can only be set when LogFormat is JSON")
    if log_format == "JSON":
        out.setdefault("ApplicationLogLevel", "INFO")
        out.setdefault("SystemLogLevel", "INFO")
    else:
        out.pop("LogFormat", None)
    return out or None


TENANT_ISOLATION_MODES = ("PER_TENANT",)
TENANT_ID_RE = re.compile(r"[a-zA-Z0-9\._:\/=+\-@ ]+")


def tenancy_config(value: Any) -> dict[str, str]:
    """TenancyConfig: {TenantIsolationMode: PER_TENANT} (Lambda's one mode)."""
    if not isinstance(value, Mapping) or set(value) != {"TenantIsolationMode"}:
        raise invalid("TenancyConfig needs exactly TenantIsolationMode")
    mode = value["TenantIsolationMode"]
    if mode not in TENANT_ISOLATION_MODES:
        raise invalid(f"1 validation error detected: Value '{mode}' at 'tenancyConfig.tenantIsolationMode' "
                      "failed to satisfy constraint: Member must satisfy enum value set: [PER_TENANT]")
    return {"TenantIsolationMode": mode}


def tenant_id(value: str) -> str:
    """An invoke's TenantId (X-Amz-Tenant-Id): 1 to 256 characters of Lambda's pattern."""
    return pattern(max_len(value, "tenantId", 256, 1), "tenantId", TENANT_ID_RE)


RECURSIVE_LOOP_MODES = ("Allow", "Terminate")


def recursive_loop(value: Any) -> str:
    if value not in RECURSIVE_LOOP_MODES:
        raise invalid(f"1 validation error detected: Value '{value}' at 'recursiveLoop' failed to satisfy "
                      "constraint: Member must satisfy enum value set: [Allow, Terminate]")
    return str(value)
