"""Repair instead of replanning everyone: closures, breakdowns and late trucks mid-shift."""

from __future__ import annotations

import math
import random
from collections import Counter

from maps import LaneKind, Yard
from routing.checker import check_plans
from routing.network import LaneNetwork
from routing.plan import Plan, ResourceKind, Step
from routing.planner import FleetPlanner, Task


def fleet(yard: Yard, n: int = 40, seed: int = 5) -> tuple[FleetPlanner, dict[str, Plan]]:
    rng = random.Random(seed)
    pool = rng.sample(sorted(yard.service_points), 2 * n)
    tasks = [
        Task(f"T{i:02d}", a, b, laden=bool(i % 2))
        for i, (a, b) in enumerate(zip(pool[:n], pool[n:], strict=True))
    ]
    planner = FleetPlanner(LaneNetwork(yard))
    report = planner.plan(tasks)
    assert report.complete
    return planner, dict(report.plans)


def from_now(plan: Plan, now: float) -> Plan:
    """The part of a plan from `now` on (what the checker compares with repaired plans)."""
    steps = [s for s in plan.steps if s.kind is not ResourceKind.CONFLICT_GROUP]
    k = max((i for i, s in enumerate(steps) if s.t_enter <= now), default=0)
    return Plan.of(plan.truck, steps[k:])


def test_a_closure_repairs_only_the_plans_that_use_the_lane(haiphong: Yard) -> None:
    planner, before = fleet(haiphong)
    now = 60.0
    use = Counter(
        s.resource
        for p in before.values()
        for s in p.steps
        if s.kind is ResourceKind.LANE and s.t_enter > now
    )
    # A main-road lane (not a junction's connector) that two trucks or more will enter after
    # `now` and that nobody is driving on at `now` or committed to (one there could only
    # drive off it; one crossing the junction into it cannot stop before it).
    on_it = {
        s.resource
        for p in before.values()
        for s in p.steps
        if s.kind is ResourceKind.LANE and s.t_enter <= now + 15.0 and now < s.t_exit
    }

    def main_road(lane_id: str) -> bool:
        lane = haiphong.lanes[lane_id]
        return lane.kind is LaneKind.MAIN and lane.conflict_group is None

    lane = next(
        lane for lane, k in use.most_common() if k >= 2 and main_road(lane) and lane not in on_it
    )
    planner.network.close(lane)
    report = planner.repair(now, closed=[lane])
    assert report.complete, report.failed
    touched = {
        t for t, p in before.items() if any(s.resource == lane and s.t_enter > now for s in p.steps)
    }
    assert set(report.plans) >= touched and touched
    for truck, plan in planner.plans.items():
        if truck in report.plans:
            assert all(s.resource != lane for s in plan.steps)
        else:
            assert plan is before[truck]  # untouched plans are the very same objects
    assert len(report.plans) < len(before) / 2
    current = [p if t in report.plans else from_now(p, now) for t, p in planner.plans.items()]
    assert check_plans(current, haiphong) == []


def test_a_broken_truck_stays_an_obstacle(haiphong: Yard) -> None:
    planner, before = fleet(haiphong, seed=6)
    now = 45.0

    # The truck whose position at `now` most other plans pass later breaks down there.
    def spot(plan: Plan) -> tuple[str, float]:
        """Where its front is at `now` (a plan that has not left yet is at its first lane)."""
        lanes = [s for s in plan.steps if s.kind is ResourceKind.LANE]
        step = [s for s in lanes if s.t_enter <= now][-1:] or lanes[:1]
        return step[0].resource, step[0].from_m

    def crossing(truck: str) -> int:
        lane, at = spot(before[truck])
        return sum(
            1
            for t, p in before.items()
            if t != truck
            and any(s.resource == lane and s.from_m == at and s.t_enter > now for s in p.steps)
        )

    def on_main_road(truck: str) -> bool:
        """Driving along a main-road lane at `now` (not in a junction, not waiting to leave)."""
        plan = before[truck]
        lane = haiphong.lanes[spot(plan)[0]]
        under_way = plan.steps[0].t_exit <= now
        return under_way and lane.kind is LaneKind.MAIN and lane.conflict_group is None

    moving = [t for t, p in before.items() if p.t_end > now + 30 and on_main_road(t)]
    broken = max(moving, key=crossing)
    assert crossing(broken) >= 1
    lane, at = spot(before[broken])
    report = planner.repair(now, broken=[broken])
    # Only a truck already behind it with no junction between is stuck: on the same lane,
    # or in the junction's movement onto it (it has no other way out of the junction).
    way_in = {lane} | {c.id for c in haiphong.lanes.values() if c.end == haiphong.lanes[lane].start}
    for truck, why in report.failed.items():
        assert f"broken down: {broken}" in why
        assert spot(before[truck])[0] in way_in, (truck, why)
    assert len(report.plans) >= 1
    for truck, plan in report.plans.items():
        for s in plan.steps:
            assert not (s.resource == lane and s.from_m == at), truck
    # The broken truck, standing there for ever, conflicts with nobody's new plan.
    stay = Plan.of(
        broken,
        [
            Step(
                lane,
                ResourceKind.LANE,
                now,
                math.inf,
                before[broken].steps[0].speed_mps or 1.0,
                at,
                at,
            )
        ],
    )
    current = [
        p if t in report.plans else from_now(p, now)
        for t, p in planner.plans.items()
        if t != broken and t not in report.failed  # those stuck behind it stay stuck
    ]
    assert [c for c in check_plans([*current, stay], haiphong) if broken in c.trucks] == []


def test_a_late_truck_is_replanned_from_where_it_really_is(haiphong: Yard) -> None:
    planner, before = fleet(haiphong, seed=7)
    now = 80.0
    late = next(t for t, p in before.items() if p.t_end > now + 60)
    report = planner.repair(now, late={late: 25.0})
    assert report.complete
    new = report.plans[late]
    assert new.t_end >= before[late].t_end + 20.0  # it really is later
    assert new.nodes[-1] == before[late].nodes[-1]
    current = [p if t in report.plans else from_now(p, now) for t, p in planner.plans.items()]
    assert check_plans(current, haiphong) == []
