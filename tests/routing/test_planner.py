"""The fleet planner: every truck planned, and the independent checker finds no conflict."""

from __future__ import annotations

import math
import random

import pytest

from maps import TerminalSpec, Yard, generate_terminal
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


def test_trucks_take_turns_on_the_single_track_road(haiphong: Yard) -> None:
    planner = FleetPlanner(LaneNetwork(haiphong))
    # One truck leaves the fuel station while another heads in: they meet head-on
    # unless one waits for the other to clear the single-track access road.
    tasks = [Task("OUT", "FUEL.P1", "A1.TP1", release_s=70.0), Task("IN", "PARK.S03", "FUEL.P2")]

    def access(plan: Plan) -> tuple[float, float]:
        step = next(s for s in plan.steps if s.resource == "FUEL.ACCESS")
        return step.t_enter, step.t_exit

    alone = [access(FleetPlanner(LaneNetwork(haiphong)).plan([t]).plans[t.truck]) for t in tasks]
    assert alone[0][0] < alone[1][1] and alone[1][0] < alone[0][1], alone  # they would meet
    report = planner.plan(tasks)
    assert report.complete
    spans = sorted(
        (s.t_enter, s.t_exit, p.truck)
        for p in report.plans.values()
        for s in p.steps
        if s.kind is ResourceKind.CONFLICT_GROUP and s.resource == "FUEL.ACCESS"
    )
    assert len(spans) == 2
    assert spans[0][1] <= spans[1][0] + 1e-6, spans
    assert check_plans(list(report.plans.values()), haiphong) == []


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
    yard = generate_terminal(
        TerminalSpec(
            id="t",
            quay_cranes=8,
            quay_length_m=1200,
            block_columns=3,
            block_rows=6,
            transfer_points_per_block=6,
        )
    )
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
