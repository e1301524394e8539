"""The fleet as an operator sees it: its nodes, their capacity and state, and drain (platform admins only)."""

from __future__ import annotations

import time
from typing import Any

from lamina.errors import AccessDeniedException, ResourceNotFoundException
from lamina.scheduler.fleet import Registry
from lamina.services.common import Deps
from lamina.services.iam.iam import Principal


def _admin_only(deps: Deps, principal: Principal | None) -> None:
    if principal is None or not principal.admin or principal.role is not None \
            or principal.account_id != deps.settings.account_id:
        raise AccessDeniedException("Only the platform's administrators can read or change the fleet.")


def list_nodes(deps: Deps, principal: Principal | None) -> list[dict[str, Any]]:
    _admin_only(deps, principal)
    now = time.time()
    out = []
    for node in Registry(deps.redis).nodes():
        alive = node.alive(now, deps.settings.node_ttl_s)
        out.append({
            "NodeId": node.node_id, "Address": f"{node.address}:{node.port}", "Cores": node.cores,
            "MemoryBudgetMB": node.memory_budget_mb, "MemoryUsedMB": node.memory_used_mb,
            "FreeMemoryMB": node.free_mb, "Environments": node.environments, "Busy": node.busy,
            "Images": sorted(i for i in node.images if not i.startswith("sha256:")),
            "State": ("Draining" if node.draining else "Active") if alive else "Lost",
            "LastHeartbeatAgeSeconds": round(now - node.seen, 3),
        })
    return out


def drain(deps: Deps, principal: Principal | None, node_id: str, draining: bool) -> dict[str, Any]:
    _admin_only(deps, principal)
    if not Registry(deps.redis).drain(node_id, draining):
        raise ResourceNotFoundException(f"Node not found: {node_id}")
    return next(n for n in list_nodes(deps, principal) if n["NodeId"] == node_id)
