"""The fleet: one `lamina node` per Docker host, registered in Redis with a heartbeat.

A node writes its ``NodeRecord`` every second (address, cores, memory budget and use, environments, the
images its engine holds). API processes place each cold start on a live node (``choose``: not draining,
holding the image, with room, the least loaded first) and reach the environment there directly
(docs/fleet.md). A node whose heartbeat is older than the TTL is taken out by whoever sees it first
(``take_out_lost``): its environments are forgotten, so their concurrency slots and memory come back and
no invoke is placed there again; the ids are kept under ``nodes_lost`` for a while, so every API process can
abort the calls it still has in flight on that host.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from lamina.executor.node_client import NodeClient, NodeRefused, NodeUnavailable, node_token
from lamina.scheduler import keys
from lamina.scheduler.pool import Pool

__all__ = ["NodeRecord", "Placer", "Registry", "choose", "node_token"]

log = logging.getLogger(__name__)

LOST_KEPT_S = 120.0  # how long a lost node's environment ids stay readable for in-flight aborts


@dataclass(frozen=True)
class NodeRecord:
    """One node's heartbeat."""

    node_id: str
    address: str  # where API processes reach its node service (and, routed, its environments)
    port: int
    cores: int
    memory_budget_mb: int
    memory_used_mb: int = 0
    environments: int = 0
    busy: int = 0
    # image tag or id -> what a ContainerSpec needs of it ({entrypoint, cmd, working_dir, env})
    images: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cells: Mapping[str, int] = field(default_factory=dict)  # runtime family -> free stem cells
    seen: float = 0.0
    started: float = 0.0
    draining: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def free_mb(self) -> int:
        return self.memory_budget_mb - self.memory_used_mb

    def alive(self, now: float, ttl_s: float) -> bool:
        return now - self.seen <= ttl_s

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("draining")  # kept in its own set (a drain must not be lost to the next heartbeat)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes, draining: bool = False) -> NodeRecord:
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__}, draining=draining)


@dataclass
class Registry:
    redis: redis.Redis

    def heartbeat(self, record: NodeRecord) -> None:
        self.redis.hset(keys.nodes(), record.node_id, record.to_json())

    def nodes(self) -> list[NodeRecord]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.nodes())
        pipe.smembers(keys.nodes_draining())
        raw, draining = pipe.execute()
        names = {_s(d) for d in draining}
        out = []
        for node_id, value in raw.items():
            try:
                out.append(NodeRecord.from_json(value, draining=_s(node_id) in names))
            except (ValueError, TypeError):
                log.warning("node %s has an unreadable record; ignored", _s(node_id))
        return sorted(out, key=lambda n: n.node_id)

    def get(self, node_id: str) -> NodeRecord | None:
        return next((n for n in self.nodes() if n.node_id == node_id), None)

    def drain(self, node_id: str, draining: bool = True) -> bool:
        """Stop (or resume) new placements on ``node_id``; False when no such node is registered."""
        if not self.redis.hexists(keys.nodes(), node_id):
            return False
        if draining:
            self.redis.sadd(keys.nodes_draining(), node_id)
        else:
            self.redis.srem(keys.nodes_draining(), node_id)
        return True

    def lost(self, now: float) -> dict[str, set[str]]:
        """Nodes taken out in the last LOST_KEPT_S: node id -> the environment ids it had."""
        out: dict[str, set[str]] = {}
        for node_id, raw in self.redis.hgetall(keys.nodes_lost()).items():
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if now - float(data.get("at") or 0) <= LOST_KEPT_S:
                out[_s(node_id)] = set(data.get("envs") or ())
        return out

    def take_out(self, pool: Pool, node: NodeRecord, now: float) -> list[str]:
        """Forget a lost node and its environments; return the environment ids forgotten.

        Only the caller that deletes the node's record does the rest, so two processes seeing the same lost
        heartbeat do it once; a node that comes back re-registers with its next heartbeat and its sweep
        removes the containers nobody knows any more.
        """
        # Compare-and-delete on the heartbeat's time: one written since we read it keeps the node (comparing
        # the whole record would never match one written by another version of lamina).
        script = ("local raw = redis.call('HGET', KEYS[1], ARGV[1]) "
                  "if raw and tonumber(cjson.decode(raw)['seen']) == tonumber(ARGV[2]) then "
                  "return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0")
        if not self.redis.eval(script, 1, keys.nodes(), node.node_id, repr(node.seen)):
            return []
        everyone = Pool(self.redis, node="") if pool.node else pool  # a node's own snapshot holds only its own
        mine = [e.env_id for e in everyone.snapshot().envs if e.node == node.node_id]
        self.redis.hset(keys.nodes_lost(), node.node_id, json.dumps({"at": now, "envs": mine}))
        for env_id in mine:
            pool.reap_if(env_id, now, "any")  # its containers went with the host: nothing to remove here
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(keys.free_sandboxes(node.node_id), keys.sandboxes_creating(node.node_id),
                    keys.init_boosts(node.node_id), keys.init_boost_shares(node.node_id))
        for family in Pool(self.redis, node=node.node_id).cell_families():
            on = keys.cell_family_on(family, node.node_id)
            pipe.delete(keys.free_cells(on), keys.cells_creating(on))
        pipe.execute()
        log.warning("node %s stopped its heartbeat %.1f s ago: taken out, %d environments forgotten",
                    node.node_id, now - node.seen, len(mine))
        return mine

    def take_out_lost(self, pool: Pool, now: float, ttl_s: float) -> list[str]:
        """Take out every node whose heartbeat is older than ``ttl_s``; return the environments forgotten."""
        forgotten: list[str] = []
        for node in self.nodes():
            if not node.alive(now, ttl_s):
                forgotten += self.take_out(pool, node, now)
        self.redis.eval(  # forget old lost records
            "for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do "
            "local v = cjson.decode(redis.call('HGET', KEYS[1], k)) "
            "if tonumber(v['at']) < tonumber(ARGV[1]) then redis.call('HDEL', KEYS[1], k) end end return 0",
            1, keys.nodes_lost(), repr(now - LOST_KEPT_S))
        return forgotten


LOAD_BANDS = 10  # nodes whose free memory is within one tenth of their budget count as equally loaded


def choose(nodes: Iterable[NodeRecord], memory_mb: int, image: str, now: float, ttl_s: float,
           pending_mb: Mapping[str, int] | None = None, exclude: Sequence[str] = (), family: str = "",
           pending_cells: Mapping[str, int] | None = None, code_on: Set[str] = frozenset()) -> NodeRecord | None:
    """The node a cold start of ``memory_mb`` running ``image`` goes to, or None when none can take it.

    Live, not draining, holding the image, with room; then one with a free stem cell of ``family`` (no
    Docker start on the critical path); then the least loaded, in tenths of a node's budget (free memory
    less what this process placed there since that node's last heartbeat, ``pending_mb``, so a burst
    spreads); among equally loaded nodes one that holds the function's code extracted (``code_on``: no
    fetch and extraction); then the most free memory, fewest environments, node id.
    """
    cells_taken = pending_cells or {}
    pending = pending_mb or {}
    fits = [
        n for n in nodes
        if n.alive(now, ttl_s) and not n.draining and n.node_id not in exclude and image in n.images
        and n.free_mb - pending.get(n.node_id, 0) >= memory_mb
    ]
    if not fits:
        return None

    def rank(n: NodeRecord) -> tuple[bool, int, bool, int, int, str]:
        free = n.free_mb - pending.get(n.node_id, 0)
        load_band = (n.memory_budget_mb - free) * LOAD_BANDS // max(1, n.memory_budget_mb)
        return (n.cells.get(family, 0) > cells_taken.get(n.node_id, 0), -load_band, n.node_id in code_on, free,
                -n.environments, n.node_id)

    return max(fits, key=rank)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Placer:
    """An API process's view of the fleet: where cold starts go, and how the nodes are asked.

    The node list is read from Redis at most every ``refresh_s``; between two reads, what this process
    placed on a node counts against its free memory, so a burst spreads instead of piling on one host.
    """

    refresh_s = 0.5

    def __init__(self, registry: Registry, client: NodeClient, ttl_s: float) -> None:
        self.registry = registry
        self.client = client
        self.ttl_s = ttl_s
        self._nodes: list[NodeRecord] = []
        self._read_at = 0.0
        self._pending: dict[str, int] = {}
        self._pending_cells: dict[str, int] = {}
        self._failed: dict[str, float] = {}  # node id -> when a start there could not reach it
        self._lock = threading.Lock()

    def nodes(self, now: float) -> list[NodeRecord]:
        with self._lock:
            if now - self._read_at >= self.refresh_s:
                self._nodes = self.registry.nodes()
                self._read_at = now
                self._pending.clear()
                self._pending_cells.clear()
            return self._nodes

    def live(self, now: float) -> list[NodeRecord]:
        return [n for n in self.nodes(now) if n.alive(now, self.ttl_s)]

    def memory_budget_mb(self, now: float) -> int:
        """The fleet's memory budget: what every live node may give its environments."""
        return sum(n.memory_budget_mb for n in self.live(now))

    def failed(self, node_id: str, now: float) -> None:
        """A start could not reach ``node_id``: place nothing there for a TTL (its heartbeat will tell)."""
        with self._lock:
            self._failed[node_id] = now

    def code_on(self, code_key: str, nodes: Sequence[NodeRecord]) -> set[str]:
        """The nodes among ``nodes`` that hold ``code_key`` extracted (one pipelined Redis round trip)."""
        if not code_key or not nodes:
            return set()
        pipe = self.registry.redis.pipeline(transaction=False)
        for n in nodes:
            pipe.sismember(keys.node_code(n.node_id), code_key)
        return {n.node_id for n, held in zip(nodes, pipe.execute(), strict=True) if held}

    def choose(self, memory_mb: int, image: str, now: float, family: str = "",
               code_key: str = "") -> NodeRecord | None:
        nodes = self.nodes(now)
        code_on = self.code_on(code_key, nodes)
        with self._lock:
            exclude = [n for n, at in self._failed.items() if now - at <= self.ttl_s]
            node = choose(nodes, memory_mb, image, now, self.ttl_s, self._pending, exclude, family,
                          self._pending_cells, code_on)
            if node is not None:
                self._pending[node.node_id] = self._pending.get(node.node_id, 0) + memory_mb
                if node.cells.get(family, 0) > self._pending_cells.get(node.node_id, 0):
                    self._pending_cells[node.node_id] = self._pending_cells.get(node.node_id, 0) + 1
            return node

    def image_info(self, image: str, now: float) -> Mapping[str, Any] | None:
        """What a live node's heartbeat says of ``image`` (the same tag is the same image on every node)."""
        return next((n.images[image] for n in self.live(now) if image in n.images), None)

    def url_of(self, node_id: str, now: float) -> str | None:
        node = next((n for n in self.nodes(now) if n.node_id == node_id), None)
        return node.url if node is not None else None

    def remove_everywhere(self, container_ids: Sequence[str], now: float) -> None:
        """Ask every live node to remove ``container_ids`` (a node ignores ids its engine does not have):
        a forgotten environment's record, and so its node, is gone by the time its containers go."""
        for node in self.live(now):
            try:
                self.client.remove(node.url, container_ids)
            except (NodeUnavailable, NodeRefused) as err:
                log.warning("cannot ask node %s to remove containers: %s (its sweep will)", node.node_id, err)
