"""The safety numbers are not vacuous: two trucks too close on a lane are caught.

Hand-made executed plans on a real lane of the default yard: a truck following another by
a few metres must give conflicts and a `min_separation_m` below a truck and the gap; one
following by 30 m gives neither; a truck standing broken down still blocks its lane.
"""

from __future__ import annotations

import math

import pytest

from maps import Yard
from routing.checker import check_plans
from routing.plan import Plan, ResourceKind, Step
from sim.executed import min_separation_m

LANE = "apron-b-02"
V = 2.5
LENGTH_M, GAP_M = 16.0, 4.0


def onward_of(yard: Yard) -> str:
    """The way straight on from LANE's end (across the junction there: its connector)."""
    end = yard.lanes[LANE].end
    return next(
        lane.id
        for lane in yard.lanes.values()
        if lane.start == end and lane.id.endswith(">apron-b-03")
    )


def drive(yard: Yard, truck: str, t0: float, *, onward: bool, to_end: bool = True) -> Plan:
    """Along LANE from its start at speed V from t0; `onward` goes on across the junction
    at its end and along apron-b-03."""
    lane = yard.lanes[LANE]
    t1 = t0 + lane.length_m / V
    steps = [
        Step(lane.start, ResourceKind.NODE, t0, t0),
        Step(LANE, ResourceKind.LANE, t0, t1, V, 0.0, lane.length_m if to_end else None),
        Step(lane.end, ResourceKind.NODE, t1, t1),
    ]
    if onward:  # across the junction and on along the next lane
        t = t1
        for lane_id in (onward_of(yard), "apron-b-03"):
            nxt = yard.lanes[lane_id]
            t2 = t + nxt.length_m / V
            steps += [
                Step(nxt.id, ResourceKind.LANE, t, t2, V, 0.0, nxt.length_m),
                Step(nxt.end, ResourceKind.NODE, t2, t2),
            ]
            t = t2
    return Plan.of(truck, steps)


def test_the_lanes_join(haiphong: Yard) -> None:
    assert haiphong.lanes[LANE].end == haiphong.lanes[onward_of(haiphong)].start


def test_a_truck_following_too_close_is_a_conflict(haiphong: Yard) -> None:
    plans = [drive(haiphong, "A", 0.0, onward=True), drive(haiphong, "B", 2.0, onward=False)]
    found = check_plans(plans, haiphong, length_m=LENGTH_M, gap_m=GAP_M)
    assert {c.kind for c in found} >= {"gap"}
    assert all(set(c.trucks) == {"A", "B"} for c in found)
    assert min_separation_m(plans, 300.0) == pytest.approx(2.0 * V)


def test_a_truck_following_at_a_safe_distance_is_not(haiphong: Yard) -> None:
    plans = [drive(haiphong, "A", 0.0, onward=True), drive(haiphong, "B", 12.0, onward=False)]
    assert check_plans(plans, haiphong, length_m=LENGTH_M, gap_m=GAP_M) == []
    assert min_separation_m(plans, 300.0) == pytest.approx(12.0 * V)
    assert min_separation_m(plans, 300.0) >= LENGTH_M + GAP_M


def test_trucks_never_on_one_lane_have_no_separation(haiphong: Yard) -> None:
    assert math.isinf(min_separation_m([drive(haiphong, "A", 0.0, onward=True)], 300.0))


def test_a_truck_standing_broken_down_blocks_its_lane(haiphong: Yard) -> None:
    lane = haiphong.lanes[LANE]
    start = Step(lane.start, ResourceKind.NODE, 0.0, 0.0)
    a = Plan.of("A", [start, Step(LANE, ResourceKind.LANE, 0.0, 300.0, V, 0.0, 100.0)])
    found = check_plans(
        [a, drive(haiphong, "B", 12.0, onward=True)], haiphong, length_m=LENGTH_M, gap_m=GAP_M
    )
    assert found and all(set(c.trucks) == {"A", "B"} for c in found)


def test_min_separation_reads_steps_that_drive_to_the_lanes_end(haiphong: Yard) -> None:
    """`to_m` None: to the lane's end, whose length the yard knows."""
    plans = [
        drive(haiphong, "A", 0.0, onward=True, to_end=False),
        drive(haiphong, "B", 2.0, onward=False, to_end=False),
    ]
    assert min_separation_m(plans, 300.0, yard=haiphong) == pytest.approx(2.0 * V)
