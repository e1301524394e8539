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
        assert "@127.0.0.1:5432/" in env["LAMINA_DATABASE_URL"] and env["LAMINA_REDIS_URL"].startswith(
            "redis://127.0.0.1:6379/")
        assert "/var/run/docker.sock:/var/run/docker.sock" in svc["volumes"]
    # lamina makes the functions' network itself (isolated); compose must not declare one it would share.
    assert "networks" not in doc
    assert services["api"]["environment"]["LAMINA_HOST"] == "0.0.0.0"
