"""The junction compiler judged by the body check: a truck at a stop line and one crossing.

Two independent models meet here: `maps.junctions` sets the stop lines back with its own
sampled bodies; `routing.bodies` measures rectangles along what trucks drove. On the
centre-line drawing a truck waiting at the end of its lane stands in the junction and
touches the one crossing; on the compiled yard they keep their clearance.
"""

from __future__ import annotations

import math

from sketches import crossing

from maps.junctions import compile_junctions
from maps.model import Yard
from routing.bodies import check_bodies
from routing.plan import Plan, ResourceKind, Step

SPEED = 7.0


def _drive(truck: str, yard: Yard, lanes: list[str], t0: float = 0.0) -> Plan:
    """A truck driving these lanes end to end at SPEED, from the start of the first."""
    steps = [Step(yard.lanes[lanes[0]].start, ResourceKind.NODE, t0, t0)]
    t = t0
    for lane_id in lanes:
        lane = yard.lanes[lane_id]
        dt = lane.length_m / SPEED
        steps.append(Step(lane_id, ResourceKind.LANE, t, t + dt, SPEED, 0.0, lane.length_m))
        t += dt
        steps.append(Step(lane.end, ResourceKind.NODE, t, t))
    return Plan.of(truck, steps)


def _waiting(truck: str, yard: Yard, lane_id: str, until: float) -> Plan:
    """A truck standing with its front at the end of a lane (its stop line) all along."""
    lane = yard.lanes[lane_id]
    return Plan.of(truck, [Step(lane.end, ResourceKind.NODE, 0.0, until)])


def test_a_truck_waiting_at_the_lane_end_of_a_centre_line_crossing_is_hit() -> None:
    yard = crossing()
    across = _drive("TT32", yard, ["w-in", "e-out"])
    report = check_bodies([_waiting("TT06", yard, "n-in", 60.0), across], yard)
    assert report.contacts
    assert set(report.contacts[0].trucks) == {"TT06", "TT32"}


def test_a_truck_at_a_compiled_stop_line_keeps_its_clearance() -> None:
    yard, problems = compile_junctions(crossing())
    assert problems == []
    lanes = [ln.id for ln in yard.lanes.values()]
    worst = math.inf
    for way_in in ("w-in", "s-in", "e-in"):  # every movement not from the waiting truck's lane
        for way_out in ("n-out", "s-out", "e-out", "w-out"):
            conn = f"X0001:{way_in}>{way_out}"
            if conn not in lanes:
                continue
            plan = _drive("TT32", yard, [way_in, conn, way_out])
            until = plan.steps[-1].t_exit
            report = check_bodies([_waiting("TT06", yard, "n-in", until), plan], yard)
            assert not report.contacts, (conn, report.contacts[:1])
            assert report.min_clearance_m is not None
            worst = min(worst, report.min_clearance_m)
    print(f"least clearance at a compiled stop line: {worst:.3f} m")
    assert worst >= 0.9 - 0.05
