"""Choosing the host of a cold start (lamina.scheduler.fleet.choose), a pure function of the nodes' records."""

from __future__ import annotations

from lamina.scheduler.fleet import NodeRecord, choose

IMAGE = "lamina/python:latest"


def node(node_id: str, used: int = 0, seen: float = 100.0, images: tuple[str, ...] = (IMAGE,), cells: int = 0,
         draining: bool = False, envs: int = 0) -> NodeRecord:
    return NodeRecord(node_id, "10.0.0.1", 9300, 2, 1024, used, envs, 0, {i: {} for i in images},
                      {"python": cells} if cells else {}, seen, 0.0, draining)


def test_the_least_loaded_live_node_holding_the_image_with_room_is_chosen() -> None:
    nodes = [node("a", used=512), node("b", used=128), node("c", used=0, seen=90.0),  # c: heartbeat too old
             node("d", used=0, images=()), node("e", used=0, draining=True), node("f", used=1000)]
    assert choose(nodes, 128, IMAGE, 100.5, 3.0).node_id == "b"  # type: ignore[union-attr]
    assert choose(nodes, 128, IMAGE, 100.5, 3.0, exclude=["b"]).node_id == "a"  # type: ignore[union-attr]
    assert choose(nodes, 2048, IMAGE, 100.5, 3.0) is None  # no room anywhere
    assert choose(nodes, 128, "other:image", 100.5, 3.0) is None


def test_a_free_stem_cell_comes_first_and_pending_placements_spread_a_burst() -> None:
    nodes = [node("a", used=0), node("b", used=512, cells=1)]
    assert choose(nodes, 128, IMAGE, 100.0, 3.0, family="python").node_id == "b"  # type: ignore[union-attr]
    # This process already took b's one cell since its heartbeat: then free memory decides.
    assert choose(nodes, 128, IMAGE, 100.0, 3.0, family="python",  # type: ignore[union-attr]
                  pending_cells={"b": 1}).node_id == "a"
    assert choose([node("a"), node("b")], 128, IMAGE, 100.0, 3.0,  # type: ignore[union-attr]
                  pending_mb={"b": 0, "a": 256}).node_id == "b"


def test_a_record_survives_its_json_and_draining_is_kept_apart() -> None:
    rec = node("a", used=64, cells=2)
    again = NodeRecord.from_json(rec.to_json(), draining=True)
    assert again.draining and again.memory_used_mb == 64 and again.cells == {"python": 2}
    assert again.url == "http://10.0.0.1:9300" and again.free_mb == 960
