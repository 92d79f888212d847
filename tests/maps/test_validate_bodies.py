"""The body rules of `map validate`: sidings, stop lines and lanes side by side, judged by
what a 16 x 2.5 m truck covers. A compiled yard passes; a centre-line sketch, a short
siding and a stop line moved into the junction fail, each naming the feature."""

from __future__ import annotations

from dataclasses import replace

from shapely.geometry import LineString
from sketches import crossing

from maps.bodies import Footprint
from maps.junctions import compile_junctions
from maps.model import (
    AreaKind,
    Lane,
    LaneKind,
    Node,
    Origin,
    ServicePoint,
    ServicePointKind,
    Yard,
)
from maps.validate import check_yard

ORIGIN = Origin(106.9, 20.8)


def _yard(
    pts: dict[str, tuple[float, float]],
    lanes: list[tuple[str, str, str, LaneKind]],
    stops: list[ServicePoint] = (),  # type: ignore[assignment]
    lane_width_m: float = 3.5,
) -> Yard:
    built = []
    for lid, a, b, kind in lanes:
        g = LineString([pts[a], pts[b]])
        built.append(Lane(lid, a, b, g, g.length, 7.0, kind))
    nodes = [Node(k, *v) for k, v in pts.items()]
    return Yard.build("t", "1", ORIGIN, nodes, built, (), stops, lane_width_m=lane_width_m)


def _two_way(*pairs: str) -> list[tuple[str, str, str, LaneKind]]:
    out = []
    for ab in pairs:
        a, b = ab
        out += [(f"{a}{b}", a, b, LaneKind.MAIN), (f"{b}{a}", b, a, LaneKind.MAIN)]
    return out



def road_with_siding(depth_m: float) -> Yard:
    """A two-way road w-m-k-e; a parking spot `depth_m` south of it, in from m, out to k."""
    pts = {
        "w": (-150.0, 0.0),
        "m": (0.0, 0.0),
        "k": (60.0, 0.0),
        "e": (200.0, 0.0),
        "stop": (30.0, -depth_m),
    }
    lanes = [
        *_two_way("wm", "mk", "ke"),
        ("stop-in", "m", "stop", LaneKind.SERVICE),
        ("stop-out", "stop", "k", LaneKind.SERVICE),
    ]
    return _yard(pts, lanes, [ServicePoint("SP", ServicePointKind.PARKING, "stop")])


def messages(yard: Yard) -> list[str]:
    return [str(p) for p in check_yard(yard)]


def test_a_compiled_crossing_breaks_no_rule() -> None:
    yard, problems = compile_junctions(crossing())
    assert problems == []
    assert yard.areas_of(AreaKind.JUNCTION)
    assert check_yard(yard) == []


def test_a_compiled_siding_deep_enough_breaks_no_rule() -> None:
    yard, problems = compile_junctions(road_with_siding(12.0))
    assert problems == []
    assert check_yard(yard) == []


def test_a_centre_line_yard_is_told_to_compile() -> None:
    found = messages(crossing())
    assert len(found) == 4, found  # one per two-way arm, nothing else
    for k in "nsew":
        assert any(
            f"'{k}-in'" in m
            and f"lanes '{k}-in' and '{k}-out' lie on one centre line" in m
            and "compile the yard" in m
            for m in found
        ), found
    assert check_yard(crossing(), bodies=False) == []


def test_a_siding_too_short_for_a_truck_is_named() -> None:
    yard, _ = compile_junctions(road_with_siding(6.0))
    found = messages(yard)
    assert any(
        m.startswith("'SP': field 'node': cannot hold a truck clear of the through lanes")
        and "(in by 'stop-in')" in m
        for m in found
    ), found
    assert any(
        "'SP'" in m and "cannot hold a truck outside junction 'X-m'" in m and "m back into it" in m
        for m in found
    ), found
    assert check_yard(yard, bodies=False) == []


def test_a_siding_beside_a_through_lane_is_too_close() -> None:
    """A stop 3 m beside a through lane, its siding along it: bodies 0.5 m apart."""
    pts = {
        "a": (0.0, 0.0),
        "b": (100.0, 0.0),
        "s0": (20.0, -3.0),
        "s1": (60.0, -3.0),
        "s2": (90.0, -40.0),
    }
    lanes = [
        ("ab", "a", "b", LaneKind.MAIN),
        ("s-in", "s0", "s1", LaneKind.SERVICE),
        ("s-out", "s1", "s2", LaneKind.SERVICE),
    ]
    found = messages(_yard(pts, lanes, [ServicePoint("P1", ServicePointKind.PARKING, "s1")]))
    assert (
        "'P1': field 'node': cannot hold a truck clear of the through lanes: a 16 m truck "
        "standing here (in by 's-in') comes 0.50 m from the bodies on through lane(s) 'ab' "
        "(at least 0.9 m needed); lengthen the siding or move it away"
    ) in found, found


def test_a_stop_line_moved_to_the_junction_centre_is_named() -> None:
    yard, _ = compile_junctions(crossing())
    stop = yard.node(yard.lanes["n-in"].end)
    assert stop.id == "X0001:n-in"
    moved = Node(stop.id, stop.x, 2.0)  # 2 m north of the crossing's centre
    lanes = []
    for lane in yard.lanes.values():
        xy = list(lane.geometry.coords)
        if lane.end == stop.id:
            xy[-1] = (moved.x, moved.y)
        if lane.start == stop.id:
            xy[0] = (moved.x, moved.y)
        g = LineString(xy)
        lanes.append(replace(lane, geometry=g, length_m=g.length))
    nodes = [moved if n.id == stop.id else n for n in yard.nodes.values()]
    broken = Yard.build(yard.id, yard.version, yard.origin, nodes, lanes, yard.areas.values())
    stop_rule = [p for p in check_yard(broken) if "swept area" in p.message]
    assert [p.feature_id for p in stop_rule] == ["n-in"], stop_rule
    assert "its stop line 'X0001:n-in' lies in the swept area of junction 'X0001'" in str(
        stop_rule[0]
    )
    assert "set the stop line back" in stop_rule[0].message


def test_lanes_too_close_for_two_trucks_side_by_side() -> None:
    def parallel(gap: float) -> Yard:
        pts = {"a": (0.0, 0.0), "b": (100.0, 0.0), "c": (100.0, gap), "d": (0.0, gap)}
        return _yard(pts, [("ab", "a", "b", LaneKind.MAIN), ("cd", "c", "d", LaneKind.MAIN)])

    found = messages(parallel(3.0))
    assert found == [
        "'ab': field 'geometry': runs 3.00 m from lane 'cd': too close for two trucks side by "
        "side (at least 2.5 + 0.9 = 3.4 m between centre lines)"
    ]
    assert messages(parallel(3.5)) == []
    assert messages(parallel(3.4)) == []  # exactly the limit is enough
    # A narrower truck fits 3 m apart.
    assert check_yard(parallel(3.0), footprint=Footprint(width_m=2.0)) == []


def test_lanes_one_after_the_other_are_not_side_by_side() -> None:
    """Two lanes 2 m apart end to end, a 2 m lane between them: a queue, not side by side."""
    pts = {"a": (0.0, 0.0), "b": (50.0, 0.0), "c": (52.0, 0.0), "d": (100.0, 0.0)}
    lanes = [
        ("ab", "a", "b", LaneKind.MAIN),
        ("bc", "b", "c", LaneKind.MAIN),
        ("cd", "c", "d", LaneKind.MAIN),
    ]
    assert messages(_yard(pts, lanes)) == []


def test_a_single_track_road_is_not_two_lanes() -> None:
    """The two directions of a single-track road share a conflict group: not side by side."""
    yard = _yard({"a": (0.0, 0.0), "b": (80.0, 0.0)}, _two_way("ab"))
    assert len(messages(yard)) == 1
    lanes = [replace(ln, conflict_group="ONE") for ln in yard.lanes.values()]
    single = Yard.build("t", "1", ORIGIN, yard.nodes.values(), lanes)
    assert check_yard(single) == []


def test_a_lane_width_too_narrow_for_two_trucks() -> None:
    yard = _yard(
        {"a": (0.0, 0.0), "b": (80.0, 0.0)}, [("ab", "a", "b", LaneKind.MAIN)], lane_width_m=3.0
    )
    found = messages(yard)
    assert len(found) == 1 and found[0].startswith("'yard': field 'lane_width_m': lane_width_m 3.0")


def test_body_rules_skip_broken_lanes() -> None:
    """A lane to a node the yard lacks, or of no length, is the lane rules' to report."""
    pts = {"a": (0.0, 0.0), "b": (80.0, 0.0), "z": (80.0, 0.0)}
    yard = _yard(pts, [("ab", "a", "b", LaneKind.MAIN), ("bz", "b", "z", LaneKind.MAIN)])
    found = messages(yard)
    assert len(found) == 1 and "zero length" in found[0], found


def test_the_two_lanes_of_a_compiled_road_squeezed_together_are_named() -> None:
    """Between two junctions, the westbound lane bent 2 m towards the eastbound one (away
    from the stop lines, so that only this rule fires)."""
    yard, _ = compile_junctions(crossing())
    lane = yard.lanes["e-in"]  # westbound, 1.75 m north of the centre line
    g = lane.geometry
    length = g.length
    bent = [g.coords[0]]
    for s, dy in ((20.0, 0.0), (30.0, -2.0), (length - 30.0, -2.0), (length - 20.0, 0.0)):
        p = g.interpolate(s)
        bent.append((p.x, p.y + dy))
    bent.append(g.coords[-1])
    squeezed = LineString(bent)
    lanes = [
        replace(ln, geometry=squeezed, length_m=squeezed.length) if ln.id == "e-in" else ln
        for ln in yard.lanes.values()
    ]
    broken = Yard.build(
        yard.id, yard.version, yard.origin, yard.nodes.values(), lanes, yard.areas.values()
    )
    found = messages(broken)
    assert found == [
        "'e-in': field 'geometry': runs 1.50 m from lane 'e-out': too close for two trucks side "
        "by side (at least 2.5 + 0.9 = 3.4 m between centre lines)"
    ], found


def test_declared_conflicts_must_name_lanes_both_ways() -> None:
    from dataclasses import replace as swap

    from maps.terminals import terminal

    yard = terminal()
    connector = next(ln for ln in yard.lanes.values() if ln.conflicts)
    other = sorted(connector.conflicts)[0]
    lanes = dict(yard.lanes)
    lanes[connector.id] = swap(connector, conflicts=connector.conflicts | {"nowhere"})
    lanes[other] = swap(lanes[other], conflicts=lanes[other].conflicts - {connector.id})
    broken = swap(yard, lanes=lanes)
    found = {(p.feature_id, p.message) for p in check_yard(broken, reachability=False)}
    assert (connector.id, "conflicts with lane 'nowhere', which the yard does not have") in found
    assert (connector.id, f"conflicts with {other!r}, but {other!r} not with it") in found
