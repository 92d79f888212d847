"""A junction is granted only when the truck can leave it whole (routing.execution).

Where two roads merge, truck A breaks down just past the junction; truck B, planned
through the same junction into A's lane, must wait at its stop line, not drive in and
stop with its body across the junction. Judged from what the trucks drove: time on a
connector, and the body check in metres.
"""

from __future__ import annotations

import itertools

import pytest
from shapely.geometry import LineString

from maps import Lane, LaneKind, Node, Origin, ServicePoint, ServicePointKind, Yard
from maps.junctions import compile_junctions
from routing.bodies import check_bodies
from routing.checker import check_plans
from routing.execution import Execution
from routing.network import LaneNetwork
from routing.plan import Plan, ResourceKind
from routing.planner import FleetPlanner, Task
from routing.rollout import Rollout


def _rollout(yard: Yard) -> tuple[Rollout, dict[str, Plan]]:
    planner = FleetPlanner(LaneNetwork(yard))
    report = planner.plan(
        [
            Task("A", "w", "SP.f1"),  # west → east, U-turn, back, north
            Task("B", "n", "SP.f2"),
        ]
    )
    assert report.complete, report.failed
    plans = dict(report.plans)
    ex = Execution.of(plans, yard, planner.network.vehicle.footprint_m)
    a = ex.runs["A"]
    breaks = next(i for i, p in enumerate(a.passages) if p.resource.startswith("lane:east@"))
    return Rollout(ex, breakdowns={"A": (breaks, 90.0)}), plans


def _longest_in_junction(plan: Plan, yard: Yard) -> float:
    """The most time the truck's front spent crossing a junction beyond driving it: from
    entering a connector to entering the lane after it (waiting at the edge included)."""
    worst = 0.0
    lanes = [st for st in plan.steps if st.kind is ResourceKind.LANE]
    for step, after in itertools.pairwise(lanes):
        lane = yard.lanes[step.resource]
        if lane.conflict_group:
            spent = after.t_enter - step.t_enter
            worst = max(worst, spent - lane.length_m / lane.speed_limit_mps)
    return worst


def _merge() -> Yard:
    """Two one-way roads merge at J into one lane east, which forks at E to two spots."""
    pts = {
        "w": (-100.0, 0.0),
        "n": (0.0, 100.0),
        "J": (0.0, 0.0),
        "E": (100.0, 0.0),
        "f1": (200.0, 40.0),
        "f2": (200.0, -40.0),
    }
    lanes = []
    for lid, a, b in (
        ("w-in", "w", "J"),
        ("n-in", "n", "J"),
        ("east", "J", "E"),
        ("to-f1", "E", "f1"),
        ("to-f2", "E", "f2"),
    ):
        g = LineString([pts[a], pts[b]])
        lanes.append(Lane(lid, a, b, g, g.length, 7.0, LaneKind.MAIN))
    spots = [ServicePoint(f"SP.{k}", ServicePointKind.PARKING, k, "PARK") for k in ("f1", "f2")]
    nodes = [Node(k, *v) for k, v in pts.items()]
    return Yard.build("m", "1", Origin(106.9, 20.8), nodes, lanes, service_points=spots)


@pytest.fixture(scope="module")
def merge() -> Yard:
    yard, problems = compile_junctions(_merge())
    assert problems == []
    return yard


def test_a_truck_waits_at_the_stop_line_until_it_can_leave_the_junction(merge: Yard) -> None:
    rollout, plans = _rollout(merge)
    assert rollout.run(until_s=900)
    executed = rollout.executed()
    b = next(p for p in executed if p.truck == "B")
    assert b.t_end > plans["B"].t_end + 30.0  # B really was held up by A's breakdown
    assert _longest_in_junction(b, merge) < 2 * rollout.dt
    assert check_plans(executed, merge) == []
    report = check_bodies(executed, merge, length_m=16.0, width_m=2.5, until=b.t_end)
    assert report.contacts == ()
    assert report.min_clearance_m is not None and report.min_clearance_m >= 0.9


def test_without_the_rule_the_truck_stands_in_the_junction(
    merge: Yard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: grant the junction on the next passage alone and B stops inside it."""
    monkeypatch.setattr(Execution, "beyond", lambda self, truck, index: [])
    rollout, _ = _rollout(merge)
    assert rollout.run(until_s=900)
    b = next(p for p in rollout.executed() if p.truck == "B")
    assert _longest_in_junction(b, merge) > 30.0
