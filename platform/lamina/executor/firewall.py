"""A fleet node's packet filter: API hosts reach this host's agents; functions reach no other host's, and
reach the API with their own addresses.

Docker drops forwarded connections to containers that publish no port; the node lets the control plane's
addresses (LAMINA_CONTROL_CIDR) through to the agent port of its function bridge, and stops what functions
send to any host's function subnets (LAMINA_FLEET_CIDR) or node service port. Rules go first in Docker's
DOCKER-USER chain (kept across Docker's own rule changes) and in INPUT; each is added once.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence

log = logging.getLogger(__name__)

# Only connections functions open are dropped: the answers of the agents (to the control plane) pass.
NEW = ("-m", "conntrack", "--ctstate", "NEW")


class FirewallError(RuntimeError):
    pass


def _rule(chain: str, spec: Sequence[str], table: str = "filter") -> None:
    iptables = shutil.which("iptables")
    if iptables is None:
        raise FirewallError("iptables is missing: apt-get install -y iptables")
    base = [iptables, "-w", "-t", table]
    if subprocess.run([*base, "-C", chain, *spec], capture_output=True).returncode == 0:
        return
    done = subprocess.run([*base, "-I", chain, "1", *spec], capture_output=True, text=True)
    if done.returncode != 0:
        raise FirewallError(f"iptables -t {table} -I {chain} {' '.join(spec)}: {done.stderr.strip()}")


def _first(chain: str, spec: Sequence[str], table: str) -> None:
    """``spec`` first in ``chain``, however often Docker rewrote the chain since (nat POSTROUTING has no
    DOCKER-USER to keep a rule ahead of Docker's masquerades): removed wherever it is, then put at the top."""
    iptables = shutil.which("iptables")
    if iptables is None:
        raise FirewallError("iptables is missing: apt-get install -y iptables")
    while subprocess.run([iptables, "-w", "-t", table, "-D", chain, *spec], capture_output=True).returncode == 0:
        pass
    _rule(chain, spec, table)


def open_to_control_plane(bridge: str, control_cidrs: Sequence[str], agent_port: int, fleet_cidrs: Sequence[str],
                          node_port: int, api_port: int) -> None:
    """Install the node's rules for function bridge ``bridge`` (each inserted first: the last one added is
    checked first). Functions reach the control plane's hosts on the API port only (their AWS endpoint)."""
    for cidr in control_cidrs:
        _rule("DOCKER-USER", ["-s", cidr, "-o", bridge, "-p", "tcp", "--dport", str(agent_port), "-j", "ACCEPT"])
        _rule("DOCKER-USER", ["-i", bridge, "-d", cidr, *NEW, "-j", "DROP"])
        _rule("DOCKER-USER", ["-i", bridge, "-d", cidr, "-p", "tcp", "--dport", str(api_port), "-j", "ACCEPT"])
    for cidr in fleet_cidrs:  # checked before the accepts above: inserted after them, at the top
        _rule("DOCKER-USER", ["-i", bridge, "-d", cidr, *NEW, "-j", "DROP"])
    # What functions send to the control plane keeps its source address (Docker would masquerade it as the
    # host's): the API then knows which environment calls, and role credentials stay bound to it
    # (LAMINA_BIND_ROLE_CREDENTIALS). The control plane routes the fleet's pools back through their nodes.
    for pool in fleet_cidrs:
        for cidr in control_cidrs:
            _first("POSTROUTING", ["-s", pool, "-d", cidr, "-j", "RETURN"], table="nat")
    _rule("DOCKER-USER", ["-i", bridge, "-p", "tcp", "--dport", str(node_port), *NEW, "-j", "DROP"])
    _rule("INPUT", ["-i", bridge, "-p", "tcp", "--dport", str(node_port), *NEW, "-j", "DROP"])
    log.info("firewall: %s open to %s on port %d; functions kept from %s and node port %d", bridge,
             ", ".join(control_cidrs) or "nobody", agent_port, ", ".join(fleet_cidrs) or "-", node_port)
