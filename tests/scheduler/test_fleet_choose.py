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


def test_among_equally_loaded_nodes_one_holding_the_code_is_chosen_but_a_burst_still_spreads() -> None:
    nodes = [node("a", used=0), node("b", used=64), node("c", used=0)]
    # b is within a tenth of its budget of the others' load and holds the code extracted: no fetch there.
    assert choose(nodes, 128, IMAGE, 100.0, 3.0, code_on={"b"}).node_id == "b"  # type: ignore[union-attr]
    # Without the code anywhere, free memory decides.
    assert choose(nodes, 128, IMAGE, 100.0, 3.0).node_id == "c"  # type: ignore[union-attr]
    # A burst: once this process placed two environments on b, the emptier nodes come first again.
    assert choose(nodes, 128, IMAGE, 100.0, 3.0, code_on={"b"},  # type: ignore[union-attr]
                  pending_mb={"b": 256}).node_id in {"a", "c"}
    # A free stem cell still comes before the code.
    assert choose([node("a", cells=1), node("b")], 128, IMAGE, 100.0, 3.0, family="python",  # type: ignore[union-attr]
                  code_on={"b"}).node_id == "a"
