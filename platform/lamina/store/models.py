"""SQLAlchemy 2 models: functions ($LATEST), published versions, aliases, layers, event-invoke configs, triggers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lamina.store.crypto import EncryptedJSON

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class FunctionOwned:
    """Rows that belong to one function and go with it (ON DELETE CASCADE)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    function_id: Mapped[int] = mapped_column(ForeignKey("functions.id", ondelete="CASCADE"), index=True)


class ConfigColumns:
    """The configuration a function version runs with; shared by $LATEST and published versions."""

    description: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(2048))
    runtime: Mapped[str | None] = mapped_column(String(64))
    handler: Mapped[str | None] = mapped_column(String(128))
    package_type: Mapped[str] = mapped_column(String(16), default="Zip")
    image_uri: Mapped[str | None] = mapped_column(String(512))
    image_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    memory_size: Mapped[int] = mapped_column(Integer, default=128)
    timeout: Mapped[int] = mapped_column(Integer, default=3)
    ephemeral_storage: Mapped[int] = mapped_column(Integer, default=512)
    architectures: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["x86_64"])
    # Encrypted at rest under the master key (lamina.store.crypto).
    environment: Mapped[dict[str, str]] = mapped_column(EncryptedJSON, default=dict)
    layers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Lambda's VpcConfig ({"SubnetIds": [...], "SecurityGroupIds": [...]}): Docker networks; None = default.
    vpc_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Lambda's FileSystemConfigs ([{"Arn", "LocalMountPath"}]): the account's volumes; None = none.
    file_system_configs: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    # Lambda's LoggingConfig beyond the defaults ({"LogFormat": "JSON", "ApplicationLogLevel", ...}); None = Text.
    logging_config: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Lambda's TenancyConfig ({"TenantIsolationMode": "PER_TENANT"}), set at creation only; None = shared.
    tenancy_config: Mapped[dict[str, str] | None] = mapped_column(JSON)
    code_sha256: Mapped[str] = mapped_column(String(64), default="")
    code_size: Mapped[int] = mapped_column(BigInteger, default=0)
    unzipped_size: Mapped[int] = mapped_column(BigInteger, default=0)
    code_key: Mapped[str | None] = mapped_column(String(64))
    # The runtime version (image) it was last moved to: used unless its function updates runtimes "Auto".
    runtime_version_arn: Mapped[str | None] = mapped_column(String(160))
    revision_id: Mapped[str] = mapped_column(String(36))
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Function(ConfigColumns, Base):
    __tablename__ = "functions"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(64))
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    reserved_concurrency: Mapped[int | None] = mapped_column(Integer)
    # The sandbox it asks for ("container", "gvisor"); None: its account's default. Not versioned: a
    # sandbox is a property of where code runs, so it applies to every version at once.
    isolation: Mapped[str | None] = mapped_column(String(16))
    # PutRuntimeManagementConfig's UpdateRuntimeOn: Auto (None), FunctionUpdate or Manual.
    runtime_update_mode: Mapped[str | None] = mapped_column(String(16))
    # PutFunctionRecursionConfig's RecursiveLoop: Terminate (None) or Allow.
    recursive_loop: Mapped[str | None] = mapped_column(String(16))
    # Highest version number ever published; numbers are never reused after a delete.
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    versions: Mapped[list[FunctionVersion]] = relationship(
        back_populates="function", cascade="all, delete-orphan", passive_deletes=True,
        order_by="FunctionVersion.version",
    )
    aliases: Mapped[list[Alias]] = relationship(
        back_populates="function", cascade="all, delete-orphan", passive_deletes=True, order_by="Alias.name"
    )
    event_invoke_configs: Mapped[list[EventInvokeConfig]] = relationship(
        back_populates="function", cascade="all, delete-orphan", passive_deletes=True
    )
    provisioned_configs: Mapped[list[ProvisionedConcurrencyConfig]] = relationship(
        back_populates="function", cascade="all, delete-orphan", passive_deletes=True
    )


class FunctionVersion(FunctionOwned, ConfigColumns, Base):
    """An immutable snapshot of code and configuration, numbered 1, 2, ... per function."""

    __tablename__ = "function_versions"
    __table_args__ = (UniqueConstraint("function_id", "version"),)

    version: Mapped[int] = mapped_column(Integer)
    function: Mapped[Function] = relationship(back_populates="versions")


class Alias(FunctionOwned, Base):
    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("function_id", "name"),)

    name: Mapped[str] = mapped_column(String(128))
    function_version: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(256), default="")
    # {"<version>": weight} for the one additional version, or {}.
    routing: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    revision_id: Mapped[str] = mapped_column(String(36))
    function: Mapped[Function] = relationship(back_populates="aliases")


class Deployment(FunctionOwned, Base):
    """A gradual deployment: an alias's traffic shifted step by step from one version to another
    (lamina.services.functions.deployments), rolled back when the new version's errors or p99 pass a limit."""

    __tablename__ = "deployments"

    alias: Mapped[str] = mapped_column(String(128))
    from_version: Mapped[str] = mapped_column(String(16))
    to_version: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(64))
    # InProgress, Succeeded, RolledBack, Stopped
    status: Mapped[str] = mapped_column(String(16), index=True)
    weight: Mapped[float] = mapped_column(Float, default=0.0)  # the new version's share now
    max_error_rate: Mapped[float] = mapped_column(Float)
    max_p99_ms: Mapped[float | None] = mapped_column(Float)
    min_invocations: Mapped[int] = mapped_column(Integer, default=5)
    step_started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_step_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    # [{"at": iso, "weight": w, "event": "...", "invocations": n, "errors": n, "p99_ms": x}, ...]
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventInvokeConfig(FunctionOwned, Base):
    __tablename__ = "event_invoke_configs"
    __table_args__ = (UniqueConstraint("function_id", "qualifier"),)

    qualifier: Mapped[str] = mapped_column(String(128))
    maximum_retry_attempts: Mapped[int | None] = mapped_column(Integer)
    maximum_event_age_s: Mapped[int | None] = mapped_column(Integer)
    destination_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    function: Mapped[Function] = relationship(back_populates="event_invoke_configs")


class ProvisionedConcurrencyConfig(FunctionOwned, Base):
    """PutProvisionedConcurrencyConfig on a version or an alias: environments initialized ahead."""

    __tablename__ = "provisioned_concurrency_configs"
    __table_args__ = (UniqueConstraint("function_id", "qualifier"),)

    qualifier: Mapped[str] = mapped_column(String(128))
    requested: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    function: Mapped[Function] = relationship(back_populates="provisioned_configs")


class Layer(Base):
    __tablename__ = "layers"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(140))
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    versions: Mapped[list[LayerVersion]] = relationship(
        back_populates="layer", cascade="all, delete-orphan", passive_deletes=True,
        order_by="LayerVersion.version",
    )


class LayerVersion(Base):
    __tablename__ = "layer_versions"
    __table_args__ = (UniqueConstraint("layer_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("layers.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(256), default="")
    compatible_runtimes: Mapped[list[str]] = mapped_column(JSON, default=list)
    compatible_architectures: Mapped[list[str]] = mapped_column(JSON, default=list)
    license_info: Mapped[str | None] = mapped_column(String(512))
    code_sha256: Mapped[str] = mapped_column(String(64))
    code_size: Mapped[int] = mapped_column(BigInteger)
    unzipped_size: Mapped[int] = mapped_column(BigInteger, default=0)
    code_key: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Deleted versions vanish from Get/List but keep their content while functions use them.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    layer: Mapped[Layer] = relationship(back_populates="versions")


# -- triggers (schedules, event source mappings, function URLs); deleted with their function (FK cascade)


class Schedule(FunctionOwned, Base):
    """A rate() or cron() expression that invokes a function (or one of its aliases) asynchronously."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    account_id: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(64))
    qualifier: Mapped[str | None] = mapped_column(String(128))
    expression: Mapped[str] = mapped_column(String(256))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(512), default="")
    # A constant event replacing the scheduled-event document (EventBridge's target Input), or None.
    payload: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventSourceMapping(FunctionOwned, Base):
    """A queue or a stream polled in batches for a function (Lambda's pull model)."""

    __tablename__ = "event_source_mappings"

    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    qualifier: Mapped[str | None] = mapped_column(String(128))
    event_source_arn: Mapped[str] = mapped_column(String(256))
    batch_size: Mapped[int] = mapped_column(Integer, default=10)
    maximum_batching_window_s: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    function_response_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The rest of Lambda's settings (lamina.services.triggers.event_sources.MappingOptions).
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FunctionUrl(FunctionOwned, Base):
    """A function URL: HTTP requests to /lamina-url/<url_id>/ invoke the function (or alias)."""

    __tablename__ = "function_urls"
    __table_args__ = (UniqueConstraint("function_id", "qualifier"),)

    url_id: Mapped[str] = mapped_column(String(40), unique=True)
    # "" for the unqualified function (a NULL would escape the unique constraint).
    qualifier: Mapped[str] = mapped_column(String(128), default="")
    auth_type: Mapped[str] = mapped_column(String(16))
    cors: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    invoke_mode: Mapped[str] = mapped_column(String(16), default="BUFFERED")
    creation_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# -- security and tenancy: accounts, users, access keys, execution roles, resource policies


class CodeBlob(Base):
    """A code or layer archive (LAMINA_CODE_STORE=postgres), named by the hex SHA-256 of its bytes."""

    __tablename__ = "code_blobs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LogChunk(Base):
    """Log lines of one invocation in a stream (LAMINA_LOG_STORE=postgres): what one process wrote, as the
    JSON lines of a stream file; every API host mirrors them (``lamina.services.logs.shared``)."""

    __tablename__ = "log_chunks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    group_key: Mapped[str] = mapped_column(String(1600))
    stream: Mapped[str] = mapped_column(String(128))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LogGroupSetting(Base):
    """A log group's retention (LAMINA_LOG_STORE=postgres): 0 keeps forever; no row, the platform's default."""

    __tablename__ = "log_group_settings"

    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(1600), primary_key=True)
    retention_days: Mapped[int] = mapped_column(Integer)


class Account(Base):
    """A tenant (one per team); its 12-digit id appears in every ARN of its resources."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Quotas of this account; None: the instance's defaults (LAMINA_ACCOUNT_CONCURRENCY, LAMINA_API_RATE).
    concurrency_limit: Mapped[int | None] = mapped_column(Integer)
    api_rate_limit: Mapped[int | None] = mapped_column(Integer)
    # The sandbox its functions run in unless they ask otherwise, and the ones they may ask for
    # (None: "container", and every one; see lamina.services.functions.isolation).
    isolation: Mapped[str | None] = mapped_column(String(16))
    isolation_allowed: Mapped[list[str] | None] = mapped_column(JSON)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # Admins may also manage users and keys of their account (and, in the bootstrap account, accounts).
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # An identity policy: statements as a role's (what the user may do in its account); None = everything.
    policy: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class AccessKey(Base):
    """An access key: the id is public, the secret is stored encrypted (see lamina.services.iam.secrets)."""

    __tablename__ = "access_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExecutionRole(Base):
    """A named set of allowed actions on resources that functions run with."""

    __tablename__ = "execution_roles"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # [{"Action": ["lambda:InvokeFunction"], "Resource": ["arn:aws:lambda:...:function:x"]}, ...]
    statements: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyStatement(FunctionOwned, Base):
    """One statement of a function's (or version's, or alias's) resource-based policy."""

    __tablename__ = "policy_statements"
    __table_args__ = (UniqueConstraint("function_id", "qualifier", "sid"),)

    # "" for the unqualified function (a NULL would escape the unique constraint).
    qualifier: Mapped[str] = mapped_column(String(128), default="")
    sid: Mapped[str] = mapped_column(String(100))
    statement: Mapped[dict[str, Any]] = mapped_column(JSON)
