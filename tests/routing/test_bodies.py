"""Body against body in metres: hand-made yards and plans whose clearances are known.

Every yard here is drawn by hand (x east, y north, metres); trucks are 16 m x 2.5 m.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from maps import Lane, LaneKind, Node, Origin, Yard
from routing.bodies import (
    BodyReport,
    Contact,
    bodies_at,
    body_corners,
    check_bodies,
    rectangle_clearance_m,
)
from routing.plan import Plan, ResourceKind, Step

N, L = ResourceKind.NODE, ResourceKind.LANE
XY = tuple[float, float]
R2 = math.sqrt(2.0)


def make_yard(nodes: dict[str, XY], lanes: list[tuple[str, str, str, list[XY]]]) -> Yard:
    """A yard of nodes and lanes (id, start, end, points between), in the order given."""
    out = []
    for lane_id, a, b, via in lanes:
        line = LineString([nodes[a], *via, nodes[b]])
        out.append(Lane(lane_id, a, b, line, line.length, 10.0, LaneKind.MAIN))
    return Yard.build(
        "hand", "1", Origin(106.9, 20.8), [Node(k, x, y) for k, (x, y) in nodes.items()], out
    )


def stand(truck: str, lane: str, at_m: float, t0: float = 0.0, t1: float = 100.0) -> Plan:
    """A truck standing with its front `at_m` along a lane from t0 to t1."""
    return Plan.of(truck, [Step(lane, L, t0, t1, 0.0, at_m, at_m)])


def drive(
    yard: Yard,
    truck: str,
    lanes: list[str],
    t0: float,
    speed: float,
    from_m: float = 0.0,
    until: float = 100.0,
) -> Plan:
    """Down consecutive lanes at one speed from `from_m` along the first, then stand."""
    first = yard.lanes[lanes[0]]
    steps = [Step(first.start, N, t0, t0)] if from_m == 0 else []
    t = t0
    for k, lane_id in enumerate(lanes):
        lane = yard.lanes[lane_id]
        f = from_m if k == 0 else 0.0
        dt = (lane.length_m - f) / speed
        steps.append(Step(lane_id, L, t, t + dt, speed, f, lane.length_m))
        t += dt
        steps.append(Step(lane.end, N, t, t))
    steps[-1] = Step(steps[-1].resource, N, t, max(t, until))
    return Plan.of(truck, steps)


def pairs(report: BodyReport) -> set[tuple[str, str]]:
    return {c.trucks for c in report.contacts}


# -- side by side, one behind the other -------------------------------------------------


PARALLEL = make_yard(
    {"a0": (0, 0), "a1": (200, 0), "b0": (0, 3.5), "b1": (200, 3.5)},
    [("a", "a0", "a1", []), ("b", "b0", "b1", [])],
)


def test_side_by_side_on_parallel_lanes_keep_a_metre() -> None:
    a = drive(PARALLEL, "A", ["a"], 0.0, 5.0, from_m=20.0)
    b = drive(PARALLEL, "B", ["b"], 0.0, 5.0, from_m=20.0)
    report = check_bodies([a, b], PARALLEL)
    assert report.min_clearance_m == pytest.approx(1.0, abs=0.01)
    assert report.contacts == ()
    assert report.closest is not None and report.closest.trucks == ("A", "B")
    assert report.closest.lanes == ("a", "b")
    # closer than 1.5 m counts as a contact when asked for
    near = check_bodies([a, b], PARALLEL, contact_below_m=1.5)
    assert [c.trucks for c in near.contacts] == [("A", "B")]
    assert near.contacts[0].min_clearance_m == pytest.approx(1.0, abs=0.01)
    assert "come close" in str(near.contacts[0])


def test_one_lane_twenty_metres_behind_is_clear_ten_is_a_contact() -> None:
    # the leader reaches the lane's end at t=32 s: look until 30 s, before the queue closes up
    lead = drive(PARALLEL, "A", ["a"], 0.0, 5.0, from_m=40.0)
    clear = drive(PARALLEL, "B", ["a"], 0.0, 5.0, from_m=20.0)
    report = check_bodies([lead, clear], PARALLEL, until=30.0)
    assert report.min_clearance_m == pytest.approx(4.0, abs=0.01)
    assert report.contacts == ()

    close = drive(PARALLEL, "B", ["a"], 0.0, 5.0, from_m=30.0)
    report = check_bodies([lead, close], PARALLEL, until=30.0)
    assert report.min_clearance_m == 0.0
    (contact,) = report.contacts
    assert contact.trucks == ("A", "B")
    assert contact.t_start == pytest.approx(0.0)
    assert contact.t_end == pytest.approx(30.0)
    assert contact.overlap_m == pytest.approx(2.5)  # the shortest push apart: sideways, not 6 m
    assert contact.lanes == ("a", "a")
    assert str(contact).startswith("A and B touch at (")
    assert "t=0.0..30.0 s (min clearance 0.00 m; fronts on a, a)" in str(contact)


# -- junctions and merges ------------------------------------------------------------------


CROSS = make_yard(
    {"w": (0, 0), "j": (50, 0), "e": (100, 0), "s": (50, -50), "n": (50, 50)},
    [
        ("w-j", "w", "j", []),
        ("j-e", "j", "e", []),
        ("s-j", "s", "j", []),
        ("j-n", "j", "n", []),
    ],
)


def test_a_truck_standing_in_the_junction_is_hit_by_the_crossing_one() -> None:
    """The planner's nodes are points; a body standing with its front on one is not."""
    waiting = stand("A", "w-j", 50.0, 0.0, 60.0)  # front on the junction node
    crossing = drive(CROSS, "B", ["s-j", "j-n"], 0.0, 5.0, until=60.0)
    report = check_bodies([waiting, crossing], CROSS)
    (contact,) = report.contacts
    assert contact.trucks == ("A", "B")
    # B's front reaches A's side (y = -1.25) at 48.75 m, its rear leaves (y = 1.25) at 67.25 m
    assert contact.t_start == pytest.approx(48.75 / 5.0, abs=0.1)
    assert contact.t_end == pytest.approx(67.25 / 5.0, abs=0.1)
    assert 48.0 <= contact.x <= 50.0 and abs(contact.y) <= 1.25


def test_a_truck_waiting_twelve_metres_back_is_clear_of_the_crossing_one() -> None:
    waiting = stand("A", "w-j", 38.0, 0.0, 60.0)
    crossing = drive(CROSS, "B", ["s-j", "j-n"], 0.0, 5.0, until=60.0)
    report = check_bodies([waiting, crossing], CROSS)
    assert report.contacts == ()
    assert report.min_clearance_m == pytest.approx(50.0 - 1.25 - 38.0, abs=0.01)


def test_two_trucks_standing_at_a_merge_touch() -> None:
    merge = make_yard(
        {"p": (0, 0), "q": (0, 20), "m": (40, 0)},
        [("p-m", "p", "m", []), ("q-m", "q", "m", [])],
    )
    a = stand("A", "p-m", merge.lanes["p-m"].length_m)
    b = stand("B", "q-m", merge.lanes["q-m"].length_m)
    report = check_bodies([a, b], merge)
    assert pairs(report) == {("A", "B")}
    assert report.contacts[0].lanes == ("p-m", "q-m")
    # 20 m back on each, they are apart
    far = check_bodies([stand("A", "p-m", 20.0), stand("B", "q-m", 20.0)], merge)
    assert far.contacts == ()


# -- fast, curved, and before the first move -------------------------------------------------

RHO = 6.89
"""How far from the inside of the corner the standing truck's corner is: the passing
truck's body cuts the corner to 5.657 + 1.25 = 6.907 m (front 8 m past it)."""


def test_a_brief_overlap_at_seven_metres_a_second_is_caught_by_distance_sampling() -> None:
    qx, qy = -RHO / R2, RHO / R2
    yard = make_yard(
        {
            "w": (-100, 0),
            "c": (0, 0),
            "n": (0, 100),
            "k0": (qx - 60, qy + 1.25),
            "k": (qx, qy + 1.25),
        },
        [("w-c", "w", "c", []), ("c-n", "c", "n", []), ("k-lane", "k0", "k", [])],
    )
    # B's body covers A's front-right corner while its front is 107.54..108.46 m along its
    # path (shapely, by brute force): 0.13 s at 7 m/s, here 15.55..15.68 s, between two
    # quarter seconds
    t0 = 15.55 - 107.54 / 7.0
    standing = stand("A", "k-lane", 60.0, 0.0, 40.0)
    passing = drive(yard, "B", ["w-c", "c-n"], t0, 7.0, until=40.0)
    report = check_bodies([standing, passing], yard)
    (contact,) = report.contacts
    assert contact.t_end - contact.t_start < 0.25
    assert 15.5 < contact.t_start <= contact.t_end < 15.75
    assert contact.lanes == ("k-lane", "c-n")
    # sampled by time alone (every quarter second), the overlap falls between two looks
    assert check_bodies([standing, passing], yard, every_m=1000.0).contacts == ()


BEND = make_yard(
    {"b0": (0, 0), "b1": (20, 20), "c0": (-50, 6.25), "c1": (10, 6.25)},
    [("bend", "b0", "b1", [(20, 0)]), ("c-lane", "c0", "c1", [])],
)


def test_on_a_bend_the_body_is_the_chord_from_rear_to_front() -> None:
    truck = stand("B", "bend", 28.0)  # front 8 m past the corner, rear 8 m before it
    front, rear, there = bodies_at([truck], BEND, np.array([0.0, 50.0]))
    assert front[0, 0] == pytest.approx([20.0, 8.0])
    assert rear[0, 0] == pytest.approx([12.0, 0.0])
    assert there.all()
    # C's front-right corner (10, 5) is 7/sqrt2 from the chord x - y = 12, less half a width
    report = check_bodies([truck, stand("C", "c-lane", 60.0)], BEND)
    assert report.min_clearance_m == pytest.approx(7.0 / R2 - 1.25, abs=1e-6)
    assert report.contacts == ()


SIDING = make_yard(
    {
        "w": (0, 0),
        "sp": (50, 0),
        "x": (50, -40),
        "out": (100, 0),
        "p0": (53.5, -40),
        "p1": (53.5, -2),
    },
    [
        ("main", "w", "sp", []),  # first in yard order, but not the siding
        ("SP-in", "x", "sp", []),
        ("SP-out", "sp", "out", []),
        ("park", "p0", "p1", []),
    ],
)


def test_before_it_moves_a_truck_at_a_service_point_lies_on_its_siding() -> None:
    served = Plan.of(
        "A",
        [Step("sp", N, 0.0, 10.0), Step("SP-out", L, 10.0, 20.0, 5.0), Step("out", N, 20.0, 30.0)],
    )
    front, rear, _ = bodies_at([served], SIDING, np.array([5.0]))
    assert front[0, 0] == pytest.approx([50.0, 0.0])
    assert rear[0, 0] == pytest.approx([50.0, -16.0])
    # beside a truck on the parallel lane 3.5 m east: a metre apart, as on two lanes
    beside = stand("B", "park", SIDING.lanes["park"].length_m, 0.0, 10.0)
    report = check_bodies([served, beside], SIDING, until=10.0)
    assert report.min_clearance_m == pytest.approx(1.0, abs=0.01)
    # on the main lane 5 m short of the node it would overlap, were A's body on the main lane
    queued = stand("C", "main", 45.0, 0.0, 10.0)
    assert check_bodies([served, queued], SIDING, until=10.0).contacts == ()


def test_with_no_lane_in_the_body_extends_straight_back() -> None:
    truck = Plan.of("A", [Step("w", N, 0.0, 5.0), Step("main", L, 5.0, 15.0, 5.0)])
    front, rear, _ = bodies_at([truck], SIDING, np.array([0.0, 7.0]))
    assert rear[0, 0] == pytest.approx([-16.0, 0.0])
    assert front[0, 1] == pytest.approx([10.0, 0.0])
    assert rear[0, 1] == pytest.approx([-6.0, 0.0])


# -- episodes ----------------------------------------------------------------------------


def test_contacts_are_episodes_not_samples() -> None:
    lane = "a"
    # A stands with its front at 50 m, leaves at t=10 at 5 m/s and stands at 200 m
    a = Plan.of(
        "A",
        [
            Step(lane, L, 0.0, 10.0, 0.0, 50.0, 50.0),
            Step(lane, L, 10.0, 100.0, 5.0, 50.0, 200.0),
        ],
    )
    # B stands with its front 10 m behind, follows at t=50 and stops 10 m short of A again
    b = Plan.of(
        "B",
        [
            Step(lane, L, 0.0, 50.0, 0.0, 40.0, 40.0),
            Step(lane, L, 50.0, 100.0, 5.0, 40.0, 190.0),
        ],
    )
    report = check_bodies([a, b], PARALLEL)
    first, second = report.contacts
    assert first.trucks == second.trucks == ("A", "B")
    assert first.t_start == pytest.approx(0.0)
    assert first.t_end == pytest.approx(11.2, abs=0.26)  # A's rear passes B's front
    assert second.t_start == pytest.approx(50.0 + 144.0 / 5.0, abs=0.26)  # B reaches A's rear
    assert second.t_end == pytest.approx(100.0)
    assert report.comparisons > len(report.contacts)


def test_a_truck_stopping_against_the_one_ahead_touches_from_when_it_stops() -> None:
    """The last look at a moving truck is where it stops, though nothing moves after."""
    ahead = stand("A", "a", 100.0, 0.0, 60.0)
    # B stops at t=20 s sharp with its front 15.9 m behind A's: 0.1 m into A's rear; a
    # twelfth of a second earlier it was still 0.25 m short
    b = Plan.of("B", [Step("a", L, 0.0, 60.0, 84.1 / 20.0, 0.0, 84.1)])
    report = check_bodies([ahead, b], PARALLEL)
    (contact,) = report.contacts
    assert contact.t_start == pytest.approx(20.0)
    assert contact.t_end == pytest.approx(60.0)
    assert contact.overlap_m == pytest.approx(0.1, abs=1e-6)


def test_no_two_trucks_together_has_no_clearance() -> None:
    a = stand("A", "a", 50.0, 0.0, 10.0)
    b = stand("B", "a", 50.0, 20.0, 30.0)
    report = check_bodies([a, b], PARALLEL)
    assert report.min_clearance_m is None
    assert report.closest is None
    assert report.contacts == ()
    assert check_bodies([a], PARALLEL).min_clearance_m is None
    assert check_bodies([a, b], PARALLEL, until=-5.0).min_clearance_m is None


def test_an_unknown_lane_is_named() -> None:
    with pytest.raises(ValueError, match="A: lane 'nowhere'"):
        check_bodies([stand("A", "nowhere", 1.0), stand("B", "a", 50.0)], PARALLEL)


# -- properties --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    d=st.floats(2.5, 30.0),
    at=st.floats(20.0, 180.0),
    speed=st.floats(1.0, 10.0),
    t0=st.floats(0.0, 20.0),
    opposite=st.booleans(),
)
def test_parallel_lanes_keep_their_separation_less_a_width(
    d: float, at: float, speed: float, t0: float, opposite: bool
) -> None:
    """A truck passing one standing on a parallel lane d apart: clearance d - width."""
    b_start, b_end = ((200.0, d), (0.0, d)) if opposite else ((0.0, d), (200.0, d))
    yard = make_yard(
        {"a0": (0, 0), "a1": (200, 0), "b0": b_start, "b1": b_end},
        [("a", "a0", "a1", []), ("b", "b0", "b1", [])],
    )
    until = t0 + 200.0 / speed + 5.0
    standing = stand("A", "a", at, 0.0, until)
    passing = drive(yard, "B", ["b"], t0, speed, until=until)
    report = check_bodies([standing, passing], yard)
    assert report.min_clearance_m == pytest.approx(d - 2.5, abs=0.01)
    assert (report.contacts != ()) == (d - 2.5 <= 1e-9)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-30.0, 30.0), min_size=8, max_size=8),
    st.floats(1.0, 4.0),
)
def test_rectangle_clearance_equals_shapely(xs: list[float], width: float) -> None:
    fa, ra, fb, rb = (np.array([[xs[2 * k], xs[2 * k + 1]]]) for k in range(4))
    if min(np.hypot(*(fa - ra)[0]), np.hypot(*(fb - rb)[0])) < 1.0:
        return  # no body of less than a metre
    ours = rectangle_clearance_m(fa, ra, fb, rb, width)[0]
    pa = np.asarray(shapely.polygons(body_corners(fa, ra, width)))[0]
    pb = np.asarray(shapely.polygons(body_corners(fb, rb, width)))[0]
    theirs = shapely.distance(pa, pb)
    if ours < 0:
        assert theirs == pytest.approx(0.0, abs=1e-9)
        assert pa.intersection(pb).area > 0 or -ours < 1e-6
    else:
        assert ours == pytest.approx(theirs, abs=1e-6)


def test_contact_reads_as_the_terminal_says_it() -> None:
    c = Contact(("TT11", "TT12"), 10.0, 70.5, 275.0, 559.0, 0.0, ("lane-a", "lane-b"))
    assert str(c) == (
        "TT11 and TT12 touch at (275.0, 559.0) t=10.0..70.5 s "
        "(min clearance 0.00 m; fronts on lane-a, lane-b)"
    )
