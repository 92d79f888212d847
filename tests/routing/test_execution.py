"""Execution through the temporal plan graph: late and broken-down trucks never collide or jam."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from maps import Yard
from routing.checker import check_plans
from routing.execution import Execution
from routing.network import LaneNetwork
from routing.planner import FleetPlanner, Task
from routing.rollout import Rollout


def planned(yard: Yard, n: int, seed: int) -> tuple[dict[str, object], FleetPlanner]:
    rng = random.Random(seed)
    pool = rng.sample(sorted(yard.service_points), 2 * n)
    tasks = [
        Task(f"T{i:02d}", a, b, laden=bool(i % 2))
        for i, (a, b) in enumerate(zip(pool[:n], pool[n:], strict=True))
    ]
    planner = FleetPlanner(LaneNetwork(yard))
    report = planner.plan(tasks)
    assert report.complete
    return dict(report.plans), planner


@pytest.mark.parametrize("seed", [3, 4])
def test_delays_and_breakdowns_cause_no_conflict_and_no_deadlock(haiphong: Yard, seed: int) -> None:
    plans, planner = planned(haiphong, 40, seed)
    rng = random.Random(seed)
    trucks = sorted(plans)
    slow = {t: rng.uniform(0.4, 1.0) for t in trucks if rng.random() < 0.5}
    broken = {t: (rng.randrange(2, 8), rng.uniform(30, 180)) for t in rng.sample(trucks, 4)}
    rollout = Rollout(
        Execution.of(plans, haiphong, planner.network.vehicle.footprint_m),  # type: ignore[arg-type]
        slowdown=slow,
        breakdowns=broken,
    )
    assert rollout.run(until_s=7200)
    assert rollout.deadlocks_seen == []
    executed = rollout.executed()
    assert check_plans(executed, haiphong) == []
    # Trucks really were held up: some arrive later than planned.
    late = [p for p in executed if p.t_end > plans[p.truck].t_end + 1.0]  # type: ignore[attr-defined]
    assert len(late) >= 5


def test_without_the_graph_the_same_delays_collide(haiphong: Yard) -> None:
    """The control: trucks that keep neither the plan order nor a junction's movements
    (each looks only at the lane cell or node right ahead) meet under the same delays."""
    plans, planner = planned(haiphong, 40, 3)
    rng = random.Random(3)
    trucks = sorted(plans)
    slow = {t: rng.uniform(0.4, 1.0) for t in trucks if rng.random() < 0.5}
    ex = Execution.of(plans, haiphong, planner.network.vehicle.footprint_m, manual=trucks)  # type: ignore[arg-type]
    for run in ex.runs.values():  # blind to junctions: no group keys on any passage
        run.passages = [replace(p, group=None, checks=()) for p in run.passages]
    ex._build_order()
    rollout = Rollout(ex, slowdown=slow)
    rollout.run(until_s=7200, stop_on_deadlock=True)
    found = check_plans(rollout.executed(), haiphong)
    assert (
        any(c.kind in ("conflict_group", "head-on", "junction", "gap", "node") for c in found)
        or rollout.deadlocks_seen
    )


def test_drivers_who_see_the_junctions_do_not_collide(haiphong: Yard) -> None:
    """Manual drivers (no plan order) who see the movements of the junction ahead and room
    past it do not meet under the same delays: at worst they wait on each other."""
    plans, planner = planned(haiphong, 40, 3)
    rng = random.Random(3)
    trucks = sorted(plans)
    slow = {t: rng.uniform(0.4, 1.0) for t in trucks if rng.random() < 0.5}
    ex = Execution.of(plans, haiphong, planner.network.vehicle.footprint_m, manual=trucks)  # type: ignore[arg-type]
    rollout = Rollout(ex, slowdown=slow)
    rollout.run(until_s=7200, stop_on_deadlock=True)
    found = check_plans(rollout.executed(), haiphong)
    assert not [c for c in found if c.kind in ("conflict_group", "head-on", "junction", "node")]
