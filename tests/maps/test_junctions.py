"""Lanes where they really are: offsets, stop lines, junction areas, connectors (maps.junctions).

The bodies here are drawn by the tests themselves (a lane's last 16 m buffered by half a
truck's width), not by the module's own body model, so the checks do not share its code.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import substring
from sketches import crossing

from maps.bodies import Footprint, Path
from maps.junctions import compile_junctions
from maps.model import AreaKind, Lane, LaneKind, Node, Origin, Yard

LENGTH, WIDTH = 16.0, 2.5


def _lane(lid: str, a: str, b: str, pts: dict[str, tuple[float, float]]) -> Lane:
    g = LineString([pts[a], pts[b]])
    return Lane(lid, a, b, g, g.length, 7.0, LaneKind.MAIN)


def _yard(pts: dict[str, tuple[float, float]], lanes: list[tuple[str, str, str]]) -> Yard:
    nodes = [Node(k, *v) for k, v in pts.items()]
    return Yard.build("t", "1", Origin(106.9, 20.8), nodes, [_lane(*x, pts) for x in lanes])


def _standing(lane: Lane) -> Polygon:
    """A body with its front at the lane's end, drawn independently: its last 16 m, 2.5 m wide."""
    g = lane.geometry
    part = substring(g, max(0.0, g.length - LENGTH), g.length)
    return part.buffer(WIDTH / 2, cap_style="flat")


def test_crossing_lanes_keep_right_and_stop_at_the_junction_edge() -> None:
    yard, problems = compile_junctions(crossing())
    assert problems == []
    # Right-hand traffic: northbound on the east side, southbound on the west side.
    north_in = yard.lanes["s-in"].geometry  # from the south, driving north
    assert all(abs(x - 1.75) < 1e-6 for x, _ in north_in.coords)
    south_in = yard.lanes["n-in"].geometry
    assert all(abs(x + 1.75) < 1e-6 for x, _ in south_in.coords)
    # The crossing, and a U-turn at each dead end of the arms.
    junctions = {j.id: j for j in yard.areas_of(AreaKind.JUNCTION)}
    assert sorted(junctions) == ["X-e", "X-n", "X-s", "X-w", "X0001"]
    area = junctions["X0001"].polygon
    for k in "nsew":
        stop = yard.node(yard.lanes[f"{k}-in"].end)
        assert area.exterior.distance(Point(stop.x, stop.y)) < 0.01
        assert stop.id == f"X0001:{k}-in"
        # A truck at the stop line stands outside the junction.
        assert _standing(yard.lanes[f"{k}-in"]).intersection(area).area < 0.5


def test_crossing_has_a_connector_per_movement_in_the_junctions_group() -> None:
    yard, _ = compile_junctions(crossing())
    connectors = [ln for ln in yard.lanes.values() if ln.conflict_group == "X0001"]
    # Four ways in, three ways out each (no U-turn where a road goes on).
    assert len(connectors) == 12
    assert "X0001:n-in>e-out" in yard.lanes
    assert "X0001:n-in>n-out" not in yard.lanes
    for c in connectors:
        assert yard.lanes[c.id].start == yard.lanes[c.id.split(":")[1].split(">")[0]].end
        assert c.geometry.length == pytest.approx(c.length_m, abs=0.01)
    import networkx as nx

    assert nx.has_path(yard.graph, yard.lanes["e-in"].start, yard.lanes["n-out"].end)


def test_trucks_at_stop_lines_are_clear_of_each_other_and_of_crossing_lanes() -> None:
    yard, _ = compile_junctions(crossing())
    stops = [_standing(yard.lanes[f"{k}-in"]) for k in "nsew"]
    for i, a in enumerate(stops):
        for b in stops[i + 1 :]:
            assert a.distance(b) >= 0.9
    # Beside the lane leaving on the same road: one lane width apart, 1.0 m of clearance.
    gone = yard.lanes["e-out"].geometry
    beside = substring(gone, 20.0, 36.0).buffer(WIDTH / 2, cap_style="flat")
    assert 0.99 <= stops[2].distance(beside) <= 1.5


def test_merging_lanes_no_longer_share_a_point() -> None:
    """Two sidings out of a park merging onto one aisle (TT11 and TT12 at n0365)."""
    pts = {"a": (-60.0, 18.0), "b": (-60.0, -18.0), "n0365": (0.0, 0.0), "c": (80.0, 0.0)}
    yard, problems = compile_junctions(
        _yard(pts, [("a-out", "a", "n0365"), ("b-out", "b", "n0365"), ("aisle", "n0365", "c")])
    )
    assert problems == []
    one, two = _standing(yard.lanes["a-out"]), _standing(yard.lanes["b-out"])
    assert one.distance(two) >= 0.9
    assert {yard.lanes["a-out"].end, yard.lanes["b-out"].end} == {
        "X0365:a-out",
        "X0365:b-out",
    }


def test_a_drawing_no_setback_can_fix_is_reported() -> None:
    """Two lanes drawn half a metre apart into one junction: no stop line makes room."""
    pts = {"a": (-60.0, 0.0), "b": (-60.0, 0.5), "n0001": (0.0, 0.0), "c": (60.0, 0.0)}
    lanes = [("a-in", "a", "n0001"), ("b-in", "b", "n0001"), ("c-out", "n0001", "c")]
    _, problems = compile_junctions(_yard(pts, lanes))
    assert problems
    assert any("in the way of" in p or "too short" in p for p in problems)


def test_a_longer_truck_needs_stop_lines_further_back() -> None:
    short, _ = compile_junctions(crossing(), Footprint(length_m=10.0))
    long, _ = compile_junctions(crossing(), Footprint(length_m=20.0))

    def setback(yard: Yard) -> float:
        stop = yard.node(yard.lanes["n-in"].end)
        return math.hypot(stop.x, stop.y)

    assert setback(short) < setback(long)


def test_path_points_extend_straight_past_both_ends() -> None:
    p = Path([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)])
    assert p.length == 20.0
    pts = p.at([-5.0, 5.0, 15.0, 25.0])
    assert pts.tolist() == [[-5.0, 0.0], [5.0, 0.0], [10.0, 5.0], [10.0, 15.0]]


@settings(max_examples=15, deadline=None)
@given(angle=st.floats(min_value=60.0, max_value=120.0))
def test_any_crossing_angle_gives_clear_stop_lines(angle: float) -> None:
    yard, problems = compile_junctions(crossing(angle))
    assert problems == []
    stops = [_standing(yard.lanes[f"{k}-in"]) for k in "nsew"]
    for i, a in enumerate(stops):
        for b in stops[i + 1 :]:
            assert a.distance(b) >= 0.9 - 1e-6
