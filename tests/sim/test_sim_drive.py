"""Trucks driving real plans through the action dependency graph, late on purpose.

Forty trucks are planned conflict-free by routing's planner for trucks that speed up
instantly. Driven with real acceleration (and, in one test, a sluggish 0.2 m/s²), every
truck runs late, unevenly: the dependency graph must hold trucks back where their plans
cross, so that what they actually drove — checked by routing's independent checker —
has no conflict, nobody waits in a circle, nobody is early, and everybody arrives.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
from collections.abc import Callable

import pytest

from maps import Yard
from routing.checker import check_plans
from routing.network import LaneNetwork
from routing.plan import Plan, ResourceKind
from routing.planner import FleetPlanner, Task
from routing.vehicle import TERMINAL_TRACTOR, VehicleClass
from sim.drive import Drive
from sim.executed import min_separation_m


class Clock:
    """The smallest discrete-event clock."""

    def __init__(self) -> None:
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.now = 0.0

    def at(self, t: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (t, next(self.seq), action))

    def run(self, until: float, every: float, look: Callable[[float], None]) -> None:
        next_look = every
        while self.queue and self.queue[0][0] <= until:
            t, _, action = heapq.heappop(self.queue)
            while next_look < t:
                look(next_look)
                next_look += every
            self.now = t
            action()


class Heard:
    """What the wheels told (sim.drive.DriveEvents)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.log: list[tuple[float, str, str, str]] = []

    def departed(self, truck: str) -> None:
        self.log.append((self.clock.now, "departed", truck, ""))

    def stopped(self, truck: str) -> None:
        self.log.append((self.clock.now, "stopped", truck, ""))

    def arrived(self, truck: str) -> None:
        self.log.append((self.clock.now, "arrived", truck, ""))


def planned(yard: Yard, vehicle: VehicleClass, n: int = 40) -> tuple[FleetPlanner, list[Plan]]:
    rng = random.Random(11)
    pool = rng.sample(sorted(yard.service_points), 2 * n)
    tasks = [
        Task(f"T{i:02d}", a, b, laden=bool(i % 2))
        for i, (a, b) in enumerate(zip(pool[:n], pool[n:], strict=True))
    ]
    planner = FleetPlanner(LaneNetwork(yard, vehicle))
    report = planner.plan(tasks)
    assert report.complete
    return planner, [report.plans[t.truck] for t in tasks]


@pytest.mark.parametrize("accel", [1.0, 0.2])
def test_late_trucks_are_held_back_and_nobody_collides(haiphong: Yard, accel: float) -> None:
    vehicle = dataclasses.replace(TERMINAL_TRACTOR, accel_mps2=accel)
    planner, plans = planned(haiphong, vehicle)
    clock = Clock()
    heard = Heard(clock)
    drive = Drive(haiphong, planner.cells, vehicle, clock.at, heard)
    for plan in plans:
        drive.place(plan.truck, plan.steps[0].resource, 0.0)
    for plan in plans:
        drive.follow(plan.truck, plan, 0.0)
    circles: list[list[str]] = []
    end = max(p.t_end for p in plans) * 3 + 600
    clock.run(end, 5.0, lambda t: circles.extend(drive.deadlocks(t)))

    assert not circles
    arrived = {truck for _, what, truck, _ in heard.log if what == "arrived"}
    assert arrived == {p.truck for p in plans}
    assert not drive.problems.misaligned and not drive.problems.hard_brakes
    executed = drive.executed(clock.now)
    conflicts = check_plans(
        executed, haiphong, length_m=vehicle.length_m, gap_m=vehicle.safety_gap_m
    )
    assert not conflicts, [str(c) for c in conflicts[:5]]
    assert min_separation_m(executed, clock.now, yard=haiphong) >= vehicle.footprint_m - 1e-6
    # Never early: the front reaches each node no sooner than its plan says.
    for plan, done in zip(plans, sorted(executed, key=lambda p: p.truck), strict=True):
        assert plan.truck == done.truck
        when = {s.resource: s.t_enter for s in done.steps if s.kind is ResourceKind.NODE}
        for step in plan.of_kind(ResourceKind.NODE):
            assert when[step.resource] >= step.t_enter - 1e-6
    # Late, and held up for it: the graph did hold trucks back.
    lateness = [
        d.t_end - p.t_end
        for p, d in zip(plans, sorted(executed, key=lambda p: p.truck), strict=True)
    ]
    assert min(lateness) > 0
    assert drive.held_up_s > 0
    # Acceleration: from a stand, the first metres are driven slower than the lane allows.
    first = [s for s in executed[0].steps if s.kind is ResourceKind.LANE][:3]
    assert first[0].speed_mps is not None and first[0].speed_mps < first[-1].speed_mps  # type: ignore[operator]


def test_a_halted_truck_stops_within_its_braking_distance(haiphong: Yard) -> None:
    planner, plans = planned(haiphong, TERMINAL_TRACTOR, n=4)
    clock = Clock()
    drive = Drive(haiphong, planner.cells, TERMINAL_TRACTOR, clock.at, Heard(clock))
    for plan in plans:
        drive.place(plan.truck, plan.steps[0].resource, 0.0)
        drive.follow(plan.truck, plan, 0.0)
    truck = plans[0].truck
    clock.run(plans[0].t_start + 60.0, 1e9, lambda t: None)
    assert drive.moving(truck, clock.now)
    _, _, _, v = drive.pose(truck, clock.now)
    odo = drive.odometer(truck, clock.now)
    stands = drive.halt(truck, clock.now)
    assert stands > clock.now
    stop_m = drive.odometer(truck, stands) - odo
    assert stop_m == pytest.approx(v * v / (2 * TERMINAL_TRACTOR.brake_mps2), abs=1e-6)
    clock.run(stands + 600.0, 1e9, lambda t: None)
    assert not drive.moving(truck, clock.now)
    assert drive.odometer(truck, clock.now) == pytest.approx(odo + stop_m)
    # It gave up its way beyond where it stands: a new plan takes it on from there.
    assert not drive.en_route(truck)
    node, metres = drive.position(truck, clock.now)
    assert node in haiphong.nodes and metres >= 0.0
