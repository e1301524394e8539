"""Settings: the one typed configuration, read once from LAMINA_* environment variables.

No other module reads ``os.environ``. A bad value fails at start-up and names the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

DEFAULT_ACCOUNT_ID = "000000000000"
MEMORY_OVERCOMMIT = 3  # environments' memory limits may add up to this many times the host's memory


class ConfigError(ValueError):
    """A LAMINA_* variable has a value lamina cannot use."""


T = TypeVar("T")


def _parsed(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T], what: str) -> T:
    """``parse`` of variable ``name`` (unset or empty: ``default``); a value it refuses names the variable."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None


def _int(env: Mapping[str, str], name: str, default: int, low: int = 0, high: int | None = None) -> int:
    value = _parsed(env, name, default, int, "an integer")
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _parsed(env, name, default, float, "a number")


def _price(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a price of 0 or more, got {env.get(name)!r}")
    return value


def _floats(env: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    return _parsed(env, name, default, lambda raw: tuple(float(part) for part in raw.split(",")),
                   "comma-separated numbers")


def _boolean(raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    return _parsed(env, name, default, _boolean, "true or false")


def _log_level(env: Mapping[str, str]) -> str:
    raw = (env.get("LAMINA_LOG_LEVEL") or "INFO").strip().upper()
    if raw not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LAMINA_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return raw


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (env.get(name) or default).strip().lower()
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _cidrs(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    import ipaddress

    out = []
    for part in (env.get(name) or "").split(","):
        if part.strip():
            try:
                out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{name} must be comma-separated CIDRs like 10.0.0.0/24, got {part!r}") from None
    return tuple(out)


def _node_id(raw: str) -> str:
    # It is part of Redis keys and container labels: letters, digits, dots, dashes, underscores.
    if raw and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", raw):
        raise ConfigError(f"LAMINA_NODE_ID must be 1-63 letters, digits, '.', '-' or '_', got {raw!r}")
    return raw


def process_environment() -> dict[str, str]:
    """A copy of this process's environment, for the children ``lamina up`` starts."""
    return dict(os.environ)


@dataclass(frozen=True)
class Settings:
    """Everything lamina's processes need to know, with working defaults for one machine."""

    data_dir: Path = Path.home() / ".lamina"
    # None means "embedded": a SQLite file / a child redis-server under data_dir.
    database_url: str | None = None
    redis_url: str | None = None
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    host: str = "127.0.0.1"
    port: int = 9000
    public_url: str | None = None
    # Execution.
    account_concurrency: int = 1000
    idle_timeout_s: float = 600.0
    freeze_after_s: float = 10.0
    docker_network: str = "lamina"
    image_prefix: str = "lamina"
    base_image: str | None = None
    container_label: str = "lamina.managed"
    instance: str = "default"
    # Role credentials of an environment are accepted only from its own address (off behind a proxy
    # that hides the caller's address from the API).
    bind_role_credentials: bool = True
    sandboxes: int = 4  # network sandboxes kept ready for cold starts (0: cold starts use the bridge)
    # Stem cells (lamina.scheduler.cells): at most this many pre-started environments per runtime family
    # (0: none), sized by recent cold starts, within stem_cell_budget_mb of host memory for all of them.
    stem_cells: int = 64
    stem_cell_budget_mb: int = 1024
    memory_budget_mb: int | None = None  # None: MEMORY_OVERCOMMIT x this host's memory
    max_environments: int = 1000  # one Linux bridge holds at most 1023 ports
    # Limits (Lambda's published quotas).
    max_zip_bytes: int = 50 * 1024 * 1024
    max_unzipped_bytes: int = 250 * 1024 * 1024
    max_zip_ratio: int = 200
    max_request_bytes: int = 70 * 1024 * 1024
    total_code_bytes: int = 80_530_636_800
    migrate_on_start: bool = True
    # Asynchronous invocation and triggers (Lambda's values; tests shrink the delays).
    async_retry_delays_s: tuple[float, ...] = (60.0, 120.0)
    async_throttle_delay_s: float = 1.0
    async_throttle_max_delay_s: float = 300.0
    async_lease_s: float = 30.0
    # A queued event whose job has not claimed it this long is checked: its job gone or taken by a dead worker?
    async_rescue_after_s: float = 10.0
    async_keep_s: int = 86400
    trigger_tick_s: float = 0.25
    schedule_min_rate_s: int = 60
    # Security (issue 5). Master keys: Fernet keys, newest first; empty = a key file under data_dir.
    master_keys: tuple[str, ...] = ()
    signature_skew_s: int = 300
    api_rate_per_s: int = 10_000  # Lambda allows 10 invoke requests per second per unit of concurrency
    # Observability (issue 6): stored metric series, function log retention, OpenTelemetry export.
    metrics_retention_s: int = 3 * 86400
    log_retention_days: int = 30
    otlp_endpoint: str | None = None
    # prometheus-client's multiprocess mode (read by the library itself too): /metrics adds up every process.
    prometheus_multiproc_dir: str | None = None
    log_level: str = "INFO"
    # Fleet (docs/fleet.md): "local" starts environments on this host's Docker engine; "fleet" places cold
    # starts on the registered `lamina node`s. A node names itself (node_id) and serves its engine's starts
    # at node_address:node_port; a node whose heartbeat is older than node_ttl_s is taken out.
    placement: str = "local"
    node_id: str = ""
    node_address: str = ""
    node_port: int = 9300
    node_ttl_s: float = 3.0
    # A node lets these addresses (the API hosts) reach its agents, and keeps functions from every host's
    # function subnets (docs/fleet.md).
    control_cidrs: tuple[str, ...] = ()
    fleet_cidrs: tuple[str, ...] = ()
    # Replicated before acknowledged (lamina.api.durability): Redis replicas that must hold a mutating
    # request's writes before it answers (0: no wait), and how long to wait for them.
    redis_min_replicas: int = 0
    redis_wait_ms: int = 1000
    # Where code and layer archives live: "local" (under data_dir) or "postgres" (every host reads them).
    code_store: str = "local"
    # Where function logs are kept: "local" (stream files under data_dir) or "postgres" (every API host
    # mirrors them from the database: API processes on several hosts, lamina.services.logs.shared).
    log_store: str = "local"
    # Chargeback (lamina.services.usage): prices per GB-second, per million requests and per provisioned
    # GB-second; Lambda's x86 list prices by default.
    price_per_gb_second: float = 0.0000166667
    price_per_million_requests: float = 0.20
    price_per_provisioned_gb_second: float = 0.0000041667
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        account = env.get("LAMINA_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
        if not re.fullmatch(r"\d{12}", account):
            raise ConfigError(f"LAMINA_ACCOUNT_ID must be 12 digits, got {account!r}")
        data_dir = Path(env.get("LAMINA_DATA_DIR") or (Path.home() / ".lamina")).expanduser()
        return cls(
            metrics_retention_s=_int(env, "LAMINA_METRICS_RETENTION", 3 * 86400, 3600),
            log_retention_days=_int(env, "LAMINA_LOG_RETENTION_DAYS", 30, 0),
            otlp_endpoint=env.get("LAMINA_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
            prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            log_level=_log_level(env),
            data_dir=data_dir,
            database_url=env.get("LAMINA_DATABASE_URL") or None,
            redis_url=env.get("LAMINA_REDIS_URL") or None,
            region=env.get("LAMINA_REGION", "us-east-1"),
            account_id=account,
            host=env.get("LAMINA_HOST", "127.0.0.1"),
            port=_int(env, "LAMINA_PORT", 9000, 1, 65535),
            public_url=env.get("LAMINA_PUBLIC_URL") or None,
            account_concurrency=_int(env, "LAMINA_ACCOUNT_CONCURRENCY", 1000, 1),
            idle_timeout_s=_float(env, "LAMINA_IDLE_TIMEOUT", 600.0),
            freeze_after_s=_float(env, "LAMINA_FREEZE_AFTER", 10.0),
            docker_network=env.get("LAMINA_DOCKER_NETWORK", "lamina"),
            image_prefix=env.get("LAMINA_IMAGE_PREFIX", "lamina"),
            base_image=env.get("LAMINA_BASE_IMAGE") or None,
            instance=env.get("LAMINA_INSTANCE", "default"),
            sandboxes=_int(env, "LAMINA_SANDBOXES", 4, 0, 64),
            stem_cells=_int(env, "LAMINA_STEM_CELLS", 64, 0, 256),
            stem_cell_budget_mb=_int(env, "LAMINA_STEM_CELL_BUDGET_MB", 1024, 0, 1 << 20),
            memory_budget_mb=_int(env, "LAMINA_MEMORY_BUDGET_MB", 0, 0) or None,
            max_environments=_int(env, "LAMINA_MAX_ENVIRONMENTS", 1000, 1, 1000),
            max_request_bytes=_int(env, "LAMINA_MAX_REQUEST_BYTES", 70 * 1024 * 1024, 1024),
            migrate_on_start=_bool(env, "LAMINA_MIGRATE_ON_START", True),
            bind_role_credentials=_bool(env, "LAMINA_BIND_ROLE_CREDENTIALS", True),
            async_retry_delays_s=_floats(env, "LAMINA_ASYNC_RETRY_DELAYS", (60.0, 120.0)),
            async_throttle_delay_s=_float(env, "LAMINA_ASYNC_THROTTLE_DELAY", 1.0),
            async_throttle_max_delay_s=_float(env, "LAMINA_ASYNC_THROTTLE_MAX_DELAY", 300.0),
            async_lease_s=_float(env, "LAMINA_ASYNC_LEASE", 30.0),
            async_rescue_after_s=_float(env, "LAMINA_ASYNC_RESCUE_AFTER", 10.0),
            async_keep_s=_int(env, "LAMINA_ASYNC_KEEP", 86400, 60),
            trigger_tick_s=_float(env, "LAMINA_TRIGGER_TICK", 0.25),
            schedule_min_rate_s=_int(env, "LAMINA_SCHEDULE_MIN_RATE", 60, 1),
            master_keys=tuple(k.strip() for k in env.get("LAMINA_MASTER_KEY", "").split(",") if k.strip()),
            signature_skew_s=_int(env, "LAMINA_SIGNATURE_SKEW", 300, 1),
            api_rate_per_s=_int(env, "LAMINA_API_RATE", 10_000, 0),
            placement=_choice(env, "LAMINA_PLACEMENT", "local", ("local", "fleet")),
            node_id=_node_id(env.get("LAMINA_NODE_ID", "")),
            node_address=env.get("LAMINA_NODE_ADDRESS", ""),
            node_port=_int(env, "LAMINA_NODE_PORT", 9300, 1, 65535),
            node_ttl_s=_float(env, "LAMINA_NODE_TTL", 3.0),
            control_cidrs=_cidrs(env, "LAMINA_CONTROL_CIDR"),
            fleet_cidrs=_cidrs(env, "LAMINA_FLEET_CIDR"),
            redis_min_replicas=_int(env, "LAMINA_REDIS_MIN_REPLICAS", 0, 0, 16),
            redis_wait_ms=_int(env, "LAMINA_REDIS_WAIT_MS", 1000, 1, 60_000),
            code_store=_choice(env, "LAMINA_CODE_STORE", "local", ("local", "postgres")),
            log_store=_choice(env, "LAMINA_LOG_STORE", "local", ("local", "postgres")),
            price_per_gb_second=_price(env, "LAMINA_PRICE_PER_GB_SECOND", 0.0000166667),
            price_per_million_requests=_price(env, "LAMINA_PRICE_PER_MILLION_REQUESTS", 0.20),
            price_per_provisioned_gb_second=_price(env, "LAMINA_PRICE_PER_PROVISIONED_GB_SECOND", 0.0000041667),
        )

    def with_(self, **changes: object) -> Settings:
        # dataclasses.replace checks the field names and mypy cannot type **changes per field.
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'lamina.db'}"

    @property
    def effective_memory_budget_mb(self) -> int:
        """What the memory limits of all environments may add up to (idle ones are evicted past it).

        MemorySize is a cap, not a reservation: an idle Python environment uses ~12 MB of a 128 MB limit
        (DOCKER_FACTS), so by default the limits may add up to ``MEMORY_OVERCOMMIT`` x physical memory.
        """
        if self.memory_budget_mb:
            return self.memory_budget_mb
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            return 16 * 1024
        return int(total * MEMORY_OVERCOMMIT / (1024 * 1024))

    @property
    def code_dir(self) -> Path:
        return self.data_dir / "code"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
