"""docker-compose.yml keeps functions away from the platform's state: PostgreSQL and Redis publish on the
host's loopback only and share no Docker network with function containers (which run on lamina's own
bridge with enable_icc=false); the platform processes use the host network to reach the environments."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def test_state_services_listen_on_loopback_only_and_share_no_network() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert set(services) == {"postgres", "redis", "api", "scheduler", "worker"}
    for name in ("postgres", "redis"):
        ports = services[name].get("ports", [])
        assert ports and all(str(p).startswith("127.0.0.1:") for p in ports), (name, ports)
        assert "networks" not in services[name] and "network_mode" not in services[name]
    for name in ("api", "scheduler", "worker"):
        svc = services[name]
        assert svc["network_mode"] == "host", name
        env = svc["environment"]
        assert "@127.0.0.1:${LAMINA_POSTGRES_PORT:-5432}/" in env["LAMINA_DATABASE_URL"]
        assert env["LAMINA_REDIS_URL"].startswith("redis://127.0.0.1:${LAMINA_REDIS_PORT:-6379}/")
        assert "/var/run/docker.sock:/var/run/docker.sock" in svc["volumes"]
    # lamina makes the functions' network itself (isolated); compose must not declare one it would share.
    assert "networks" not in doc
    assert services["api"]["environment"]["LAMINA_HOST"] == "0.0.0.0"


DEPLOY = COMPOSE.parent / "deploy"


def test_the_fleet_compose_files_split_the_roles_and_keep_the_state_off_the_functions_path() -> None:
    control = yaml.safe_load((DEPLOY / "control-plane.yml").read_text())["services"]
    node = yaml.safe_load((DEPLOY / "node.yml").read_text())["services"]
    assert {"postgres", "redis", "redis-replica", "api", "worker"} <= set(control)
    assert sum(1 for name in control if name.startswith("sentinel-")) == 3
    assert set(node) == {"node"}
    for name in ("api", "worker"):
        env = control[name]["environment"]
        assert env["LAMINA_PLACEMENT"] == "fleet" and env["LAMINA_CODE_STORE"] == "postgres"
        assert env["LAMINA_LOG_STORE"] == "postgres"  # API hosts share no file system
        assert env["LAMINA_REDIS_URL"].startswith("redis+sentinel://") and env["LAMINA_REDIS_MIN_REPLICAS"] == "1"
        assert "/var/run/docker.sock:/var/run/docker.sock" not in control[name].get("volumes", [])
    for redis_service in ("redis", "redis-replica"):
        assert "always" in control[redis_service]["command"]
    svc = node["node"]
    assert svc["command"][-1].endswith("lamina node") and "NET_ADMIN" in svc["cap_add"]
    env = svc["environment"]
    for variable in ("LAMINA_NODE_ID", "LAMINA_NODE_ADDRESS", "LAMINA_CONTROL_CIDR", "LAMINA_FLEET_CIDR",
                     "LAMINA_MASTER_KEY"):
        assert variable in env
    # The same settings as lamina reads them (a typo here would be a setting silently dropped).
    from lamina.config import Settings

    parsed = Settings.from_env({"LAMINA_PLACEMENT": "fleet", "LAMINA_CODE_STORE": "postgres",
                                "LAMINA_REDIS_MIN_REPLICAS": "1", "LAMINA_CONTROL_CIDR": "10.0.0.1/32",
                                "LAMINA_FLEET_CIDR": "10.200.0.0/13", "LAMINA_NODE_ID": "host-1"})
    assert (parsed.placement, parsed.code_store, parsed.redis_min_replicas) == ("fleet", "postgres", 1)
    assert parsed.control_cidrs == ("10.0.0.1/32",) and parsed.node_id == "host-1"
