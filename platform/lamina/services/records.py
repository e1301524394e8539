"""Frozen dataclasses the services take from and hand to the HTTP layer (never ORM objects).

Inputs use ``None`` for "not given", so partial updates change only what the caller sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_marker: str | None = None


# -- inputs


@dataclass(frozen=True)
class ConfigInput:
    """Configuration fields of CreateFunction / UpdateFunctionConfiguration; None = not given."""

    role: str | None = None
    runtime: str | None = None
    handler: str | None = None
    description: str | None = None
    timeout: int | None = None
    memory_size: int | None = None
    environment: dict[str, str] | None = None
    layers: list[str] | None = None
    ephemeral_storage: int | None = None
    architectures: list[str] | None = None
    # Lambda's ImageConfig document (EntryPoint, Command, WorkingDirectory), stored as given.
    image_config: dict[str, Any] | None = None
    # Lambda's VpcConfig (SubnetIds = Docker networks, or ["none"]); {} or empty SubnetIds = the default.
    vpc_config: dict[str, Any] | None = None
    # Lambda's FileSystemConfigs ([{"Arn", "LocalMountPath"}], at most one); [] removes it.
    file_system_configs: list[dict[str, str]] | None = None
    # Lambda's LoggingConfig members as given (an update merges them into the stored ones).
    logging_config: dict[str, Any] | None = None
    # Lambda's TenancyConfig (CreateFunction only).
    tenancy_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class CodeInput:
    """Where new code comes from: zip bytes or a local Docker image; ``s3`` marks an S3 location."""

    zip_file: bytes | None = None
    image_uri: str | None = None
    s3: bool = False


@dataclass(frozen=True)
class CreateFunctionInput:
    name: str
    code: CodeInput
    config: ConfigInput
    package_type: str = "Zip"
    publish: bool = False
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RoutingInput:
    """An alias's AdditionalVersionWeights: {"<version>": weight}."""

    weights: dict[str, float]


@dataclass(frozen=True)
class EventInvokeInput:
    """Asynchronous invocation settings; None = not given (PUT removes, POST keeps)."""

    maximum_retry_attempts: int | None = None
    maximum_event_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None


@dataclass(frozen=True)
class LayerVersionInput:
    zip_file: bytes | None
    s3: bool = False
    description: str = ""
    compatible_runtimes: list[str] = field(default_factory=list)
    compatible_architectures: list[str] = field(default_factory=list)
    license_info: str | None = None


# -- outputs


@dataclass(frozen=True)
class LayerRef:
    arn: str
    code_size: int


@dataclass(frozen=True)
class FunctionRecord:
    """One function version's configuration as Lambda reports it; ``function_arn`` as addressed."""

    name: str
    function_arn: str
    version: str
    description: str
    role: str
    runtime: str | None
    handler: str | None
    package_type: str
    image_uri: str | None
    image_config: dict[str, Any] | None
    vpc_config: dict[str, Any] | None
    file_system_configs: list[dict[str, str]] | None
    logging_config: dict[str, str] | None
    tenancy_config: dict[str, str] | None
    memory_size: int
    timeout: int
    ephemeral_storage: int
    architectures: list[str]
    environment: dict[str, str]
    layers: list[LayerRef]
    code_sha256: str
    code_size: int
    code_key: str | None
    revision_id: str
    last_modified: datetime
    log_group: str
    runtime_version_arn: str | None = None  # RuntimeVersionConfig (services.functions.runtime_versions)


@dataclass(frozen=True)
class FunctionDetails:
    """GetFunction: the configuration plus code location inputs, tags and reserved concurrency."""

    config: FunctionRecord
    tags: dict[str, str]
    reserved_concurrency: int | None


@dataclass(frozen=True)
class AliasRecord:
    arn: str
    name: str
    function_version: str
    description: str
    routing: dict[str, float]
    revision_id: str


@dataclass(frozen=True)
class LayerVersionRecord:
    layer_name: str
    layer_arn: str
    layer_version_arn: str
    version: int
    description: str
    created: datetime
    compatible_runtimes: list[str]
    compatible_architectures: list[str]
    license_info: str | None
    code_sha256: str
    code_size: int
    code_key: str


@dataclass(frozen=True)
class LayerRecord:
    name: str
    arn: str
    latest: LayerVersionRecord


@dataclass(frozen=True)
class EventInvokeRecord:
    function_arn: str
    maximum_retry_attempts: int | None
    maximum_event_age_s: int | None
    on_success: str | None
    on_failure: str | None
    last_modified: datetime


@dataclass(frozen=True)
class AccountSettingsRecord:
    total_code_size_limit: int
    code_size_unzipped_limit: int
    code_size_zipped_limit: int
    concurrent_executions: int
    unreserved_concurrent_executions: int
    total_code_size: int
    function_count: int
