"""The independent checker: hand-made violations of each kind, and the mutation test."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from maps import Yard
from routing.checker import Conflict, check_plans
from routing.network import LaneNetwork
from routing.plan import Plan, ResourceKind, Step
from routing.planner import FleetPlanner, Task

N, L = ResourceKind.NODE, ResourceKind.LANE
INF = math.inf


def drive(
    yard: Yard, truck: str, lanes: list[str], t0: float, speed: float, wait_at_end: float = INF
) -> Plan:
    """A plan down consecutive lanes at one speed, standing at the last node."""
    steps: list[Step] = []
    t = t0
    first = yard.lanes[lanes[0]]
    steps.append(Step(first.start, N, t, t))
    for lane_id in lanes:
        lane = yard.lanes[lane_id]
        dt = lane.length_m / speed
        steps.append(Step(lane_id, L, t, t + dt, speed))
        t += dt
        steps.append(Step(lane.end, N, t, t))
    steps[-1] = Step(steps[-1].resource, N, t, t + wait_at_end)
    return Plan.of(truck, steps)


def kinds(conflicts: list[Conflict]) -> set[str]:
    return {c.kind for c in conflicts}


def test_two_trucks_in_one_junction(haiphong: Yard) -> None:
    a = drive(haiphong, "A", ["drive01-01"], 0.0, 5.0)
    end_a = haiphong.lanes["drive01-01"].end
    # B arrives at A's end node while A stands in it.
    lane_b = next(
        lane for lane in haiphong.lanes.values() if lane.end == end_a and lane.id != "drive01-01"
    )
    b = drive(haiphong, "B", [lane_b.id], 0.0, 2.0)
    found = check_plans([a, b], haiphong)
    assert any(
        c.kind == "node" and c.resource == end_a and set(c.trucks) == {"A", "B"} for c in found
    ), found


def test_following_too_close_and_overtaking(haiphong: Yard) -> None:
    lane = haiphong.lanes["drive02-01"]
    a = drive(haiphong, "A", [lane.id, "drive02-02"], 0.0, 5.0)  # the leader drives on
    close = drive(haiphong, "B", [lane.id], 2.0, 5.0)  # 10 m behind, needs 20
    assert kinds(check_plans([a, close], haiphong)) >= {"gap"}
    fast = drive(haiphong, "B", [lane.id], 5.0, 6.9)  # catches up and passes
    assert "overtaking" in kinds(check_plans([a, fast], haiphong))
    safe = drive(haiphong, "B", [lane.id], 4.5, 5.0)  # 22.5 m behind
    assert [c for c in check_plans([a, safe], haiphong) if c.kind in ("gap", "overtaking")] == []


def test_speeding_is_reported(haiphong: Yard) -> None:
    lane = haiphong.lanes["block-A1-01"]  # 10 km/h
    plan = drive(haiphong, "A", [lane.id], 0.0, 5.0)
    found = check_plans([plan], haiphong)
    assert [c.kind for c in found] == ["speed"], found


def test_a_plan_that_is_not_a_path(haiphong: Yard) -> None:
    plan = drive(haiphong, "A", ["drive01-01"], 0.0, 5.0)
    broken = Plan.of(
        "A", [plan.steps[0], plan.steps[1], Step("n0001", N, plan.steps[2].t_enter, INF)]
    )
    assert "path" in kinds(check_plans([broken], haiphong))


def test_head_on_in_a_conflict_group(haiphong: Yard) -> None:
    inward = drive(haiphong, "IN", ["fuel-access-in"], 0.0, 2.0, wait_at_end=0.0)
    outward = drive(haiphong, "OUT", ["fuel-access-out"], 1.0, 2.0, wait_at_end=0.0)
    assert "head-on" in kinds(check_plans([inward, outward], haiphong))


def test_grid_vertex_and_swap_conflicts() -> None:
    a = Plan.of("a", [Step("0,0", N, 0, 1), Step("1,0", N, 1, INF)])
    b = Plan.of("b", [Step("1,0", N, 0, 1), Step("0,0", N, 1, INF)])
    assert kinds(check_plans([a, b])) == {"swap"}
    c = Plan.of("c", [Step("2,0", N, 0, 1), Step("1,0", N, 1, INF)])
    assert kinds(check_plans([a, c])) == {"node"}
    follow = Plan.of("d", [Step("2,0", N, 0, 2), Step("0,0", N, 2, INF)])
    assert check_plans([a, follow]) == []


def _clear_time(plan: Plan, k: int, footprint: float) -> float:
    """When the front has driven `footprint` metres past node step k: its rear plus gap clear."""
    need = footprint
    for step in plan.steps[k + 1 :]:
        if step.kind is not ResourceKind.LANE:
            continue
        stretch = (step.to_m or 0.0) - step.from_m
        assert step.speed_mps
        if stretch >= need:
            return step.t_enter + need / step.speed_mps
        need -= stretch
    return INF


def _delayed(plan: Plan, k: int, dt: float) -> Plan:
    """The plan with step k and everything after it `dt` later (standing longer before it)."""
    steps = list(plan.steps)
    prev = max(i for i in range(k) if steps[i].kind is not ResourceKind.CONFLICT_GROUP)
    s = steps[prev]
    steps[prev] = Step(s.resource, s.kind, s.t_enter, s.t_exit + dt, s.speed_mps, s.from_m, s.to_m)
    for i in range(k, len(steps)):
        s = steps[i]
        if i != prev:
            steps[i] = Step(
                s.resource, s.kind, s.t_enter + dt, s.t_exit + dt, s.speed_mps, s.from_m, s.to_m
            )
    return Plan.of(plan.truck, steps)


def test_mutation_delaying_a_step_by_the_gap_is_always_reported(haiphong: Yard) -> None:
    """Delay a truck at a node by (slack + gap / speed) before its follower: always reported."""
    rng = random.Random(11)
    pool = rng.sample(sorted(haiphong.service_points), 80)
    tasks = [
        Task(f"T{i:02d}", a, b) for i, (a, b) in enumerate(zip(pool[:40], pool[40:], strict=True))
    ]
    planner = FleetPlanner(LaneNetwork(haiphong))
    report = planner.plan(tasks)
    plans = report.plans
    assert check_plans(list(plans.values()), haiphong) == []
    footprint, gap = 20.0, 4.0
    visits: dict[str, list[tuple[float, str, int]]] = {}
    for truck, plan in plans.items():
        for k, step in enumerate(plan.steps):
            if step.kind is ResourceKind.NODE and k > 0 and not math.isinf(step.t_exit):
                visits.setdefault(step.resource, []).append((step.t_enter, truck, k))
    cases = []
    for node, vs in visits.items():
        vs.sort()
        for (_, a, ka), (t_b, b, _) in itertools.pairwise(vs):
            if a == b:
                continue
            slack = t_b - _clear_time(plans[a], ka, footprint)
            if 0 <= slack < 5.0:
                cases.append((node, a, ka, b, slack))
    assert len(cases) >= 10, "the fleet should queue at some junctions"
    for node, a, ka, b, slack in cases[:60]:
        speed = next(s.speed_mps for s in plans[a].steps[ka + 1 :] if s.speed_mps)
        assert speed
        mutated = dict(plans)
        mutated[a] = _delayed(plans[a], ka, slack + gap / speed + 1e-3)
        found = check_plans(list(mutated.values()), haiphong)
        assert any({a, b} <= set(c.trucks) for c in found), (node, a, b, slack, found[:3])


@pytest.mark.parametrize("truck_length", [12.0, 16.0])
def test_longer_trucks_need_more_room(haiphong: Yard, truck_length: float) -> None:
    lane = haiphong.lanes["drive02-01"]
    a = drive(haiphong, "A", [lane.id, "drive02-02"], 0.0, 5.0)
    b = drive(haiphong, "B", [lane.id], 3.6, 5.0)  # 18 m behind
    found = [c for c in check_plans([a, b], haiphong, length_m=truck_length) if c.kind == "gap"]
    assert bool(found) == (truck_length + 4.0 > 18.0)
