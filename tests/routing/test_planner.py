"""The fleet planner: every truck planned, and the independent checker finds no conflict."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from shapely.geometry import LineString

from maps import (
    Lane,
    LaneKind,
    Node,
    Origin,
    ServicePoint,
    ServicePointKind,
    TerminalSpec,
    Yard,
    check_yard,
    generate_terminal,
)
from routing.checker import check_plans
from routing.errors import PlanningError
from routing.network import LaneNetwork
from routing.plan import Plan, ResourceKind
from routing.planner import FleetPlanner, Task


def random_tasks(yard: Yard, n: int, seed: int) -> list[Task]:
    rng = random.Random(seed)
    pool = rng.sample(sorted(yard.service_points), 2 * n)
    return [
        Task(f"T{i:03d}", a, b, laden=bool(i % 2))
        for i, (a, b) in enumerate(zip(pool[:n], pool[n:], strict=True))
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_forty_random_trucks_on_the_default_yard(haiphong: Yard, seed: int) -> None:
    planner = FleetPlanner(LaneNetwork(haiphong))
    tasks = random_tasks(haiphong, 40, seed)
    report = planner.plan(tasks)
    assert report.complete, report.failed
    plans = list(report.plans.values())
    assert check_plans(plans, haiphong) == []
    for task in tasks:
        plan = report.plans[task.truck]
        nodes = plan.of_kind(ResourceKind.NODE)
        assert nodes[0].resource == haiphong.service_points[task.start].node
        assert nodes[-1].resource == haiphong.service_points[task.goal].node
        assert math.isinf(nodes[-1].t_exit)
        assert all(a.t_enter <= b.t_enter for a, b in zip(plan.steps, plan.steps[1:], strict=False))


def fuel_station() -> Yard:
    """A hand-drawn centre-line yard (the compiled yards have no single-track road): a 25 m
    single-track access road (two opposite lanes in conflict group ACCESS) up from a two-way
    road to two pumps in dead-end bays; a bay at each end of the road below."""
    at = {
        "W": (0.0, 0.0),
        "F0": (60.0, 0.0),
        "E": (120.0, 0.0),
        "F1": (60.0, 25.0),
        "P1.n": (46.0, 47.0),
        "P2.n": (74.0, 47.0),
        "WEST.n": (-22.0, 0.0),
        "EAST.n": (142.0, 0.0),
    }
    ways = [  # (name, a, b, group, speed): a lane each way
        ("land-1", "W", "F0", None, 5.0),
        ("land-2", "F0", "E", None, 5.0),
        ("access", "F0", "F1", "ACCESS", 2.5),
        ("P1", "F1", "P1.n", "P1", 2.5),
        ("P2", "F1", "P2.n", "P2", 2.5),
        ("WEST", "W", "WEST.n", "WEST", 2.5),
        ("EAST", "E", "EAST.n", "EAST", 2.5),
    ]
    lanes = []
    for name, a, b, group, speed in ways:
        kind = LaneKind.MAIN if group in (None, "ACCESS") else LaneKind.SERVICE
        for lane_id, u, v in ((f"{name}-in", a, b), (f"{name}-out", b, a)):
            geom = LineString([at[u], at[v]])
            lanes.append(Lane(lane_id, u, v, geom, geom.length, speed, kind, group))
    stops = [
        ServicePoint(sp, ServicePointKind.FUEL_PUMP, f"{sp}.n")
        for sp in ("P1", "P2", "WEST", "EAST")
    ]
    nodes = [Node(k, x, y) for k, (x, y) in at.items()]
    yard = Yard.build("fuel", "1", Origin(106.9, 20.8), nodes, lanes, (), stops)
    assert check_yard(yard, bodies=False) == [], check_yard(yard, bodies=False)
    return yard


def test_trucks_take_turns_on_the_single_track_road() -> None:
    yard = fuel_station()

    def access(plan: Plan) -> tuple[float, float]:
        step = next(s for s in plan.steps if s.resource == "ACCESS")
        return step.t_enter, step.t_exit

    def alone(task: Task) -> tuple[float, float]:
        return access(FleetPlanner(LaneNetwork(yard)).plan([task]).plans[task.truck])

    # One truck leaves the fuel station while another heads in: they meet head-on
    # unless one waits for the other to clear the single-track access road.
    going_in = Task("IN", "WEST", "P2")
    t_in, t_clear = alone(going_in)
    t_out = alone(Task("OUT", "P1", "EAST"))[0]
    leaving = Task("OUT", "P1", "EAST", release_s=(t_in + t_clear) / 2 - t_out)
    spans = [alone(leaving), alone(going_in)]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], spans  # they would meet
    tasks = [leaving, going_in]
    report = FleetPlanner(LaneNetwork(yard)).plan(tasks)
    assert report.complete
    together = sorted(
        (s.t_enter, s.t_exit, p.truck)
        for p in report.plans.values()
        for s in p.steps
        if s.kind is ResourceKind.CONFLICT_GROUP and s.resource == "ACCESS"
    )
    assert len(together) == 2
    assert together[0][1] <= together[1][0] + 1e-6, together
    assert check_plans(list(report.plans.values()), yard) == []
    # The checker would have seen them meet.
    naive = [FleetPlanner(LaneNetwork(yard)).plan([t]).plans[t.truck] for t in tasks]
    assert "head-on" in {c.kind for c in check_plans(naive, yard)}


def test_a_spot_holds_one_truck(haiphong: Yard) -> None:
    planner = FleetPlanner(LaneNetwork(haiphong))
    with pytest.raises(PlanningError, match=r"'A' and 'B' are both sent to 'QC02\.SP'"):
        planner.plan([Task("A", "A1.TP1", "QC02.SP"), Task("B", "A2.TP1", "QC02.SP")])


def test_a_closed_lane_is_never_planned_over(haiphong: Yard) -> None:
    net = LaneNetwork(haiphong)
    planner = FleetPlanner(net)
    first = planner.plan([Task("A", "QC03.SP", "F1.TP2")]).plans["A"]
    closed = first.lanes[len(first.lanes) // 2]
    net.close(closed)
    again = FleetPlanner(net).plan([Task("A", "QC03.SP", "F1.TP2")]).plans["A"]
    assert closed not in again.lanes


def test_a_larger_generated_terminal() -> None:
    spec = TerminalSpec(
        id="t",
        quay_cranes=8,
        quay_length_m=1200,
        block_columns=3,
        block_rows=6,
    )
    # As many transfer points per block as its bays hold (more than the default's 4).
    most = max(n for n in range(4, 9) if not replace(spec, transfer_points_per_block=n).problems())
    assert most > TerminalSpec().transfer_points_per_block
    yard = generate_terminal(replace(spec, transfer_points_per_block=most))
    tasks = random_tasks(yard, 70, 7)
    report = FleetPlanner(LaneNetwork(yard)).plan(tasks)
    assert report.complete
    assert check_plans(list(report.plans.values()), yard) == []


def test_a_truck_stopped_at_a_service_point_keeps_its_siding_cell(haiphong: Yard) -> None:
    planner = FleetPlanner(LaneNetwork(haiphong))
    plan = planner.plan_one(Task("T1", "QC01.SP", "J2.TP3"))
    node = planner.cells.node_res[haiphong.node_of("J2.TP3")]
    body = planner.cells.entry_cell(haiphong.node_of("J2.TP3"))
    assert body is not None
    planner.stand("T1", plan.t_end + 100.0)
    for resource in (node, body):
        holds = planner.table.holds(resource)
        assert any(h[2] == "T1" and math.isinf(h[1]) for h in holds), resource


def test_a_late_truck_is_repaired_from_where_it_is(haiphong: Yard) -> None:
    """`lag`: the repair starts from where the truck is (behind its plan), not where its
    plan says; a lag alone re-plans nobody."""
    planner = FleetPlanner(LaneNetwork(haiphong))
    plan = planner.plan_one(Task("T1", "PARK.S01", "QC06.SP"))
    now = (plan.t_start + plan.t_end) / 2
    assert planner.repair(now, lag={"T1": 60.0}).plans == {}
    lanes = [s for s in plan.steps if s.kind is ResourceKind.LANE and s.t_enter > now]
    closing = lanes[len(lanes) // 2].resource
    planner.network.close(closing)
    report = planner.repair(now, closed=[closing], lag={"T1": 60.0})
    fixed = report.plans["T1"]
    first = next(s for s in fixed.steps if s.kind is not ResourceKind.CONFLICT_GROUP)
    assert first.resource == planner.cells.name[planner.resource_at(plan, now - 60.0)]
    assert closing not in {s.resource for s in fixed.steps}
