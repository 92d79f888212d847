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
import math
import random
from collections.abc import Callable

import numpy as np
import pytest
from shapely.geometry import LineString

from maps import Lane, LaneKind, Node, Origin, ServicePoint, ServicePointKind, Yard
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


def driven_at(yard: Yard, done: Plan, start: str, d: float) -> tuple[str, float]:
    """Where the front was when it had driven `d` metres: (lane, metres along it), walked
    along what it drove (the executed trace); before its start, back along the siding
    lane into its start node."""
    cum = 0.0
    for step in done.of_kind(ResourceKind.LANE):
        assert step.to_m is not None
        length = step.to_m - step.from_m
        if cum - 1e-6 <= d <= cum + length + 1e-6:
            return step.resource, min(step.from_m + (d - cum), step.to_m)
        cum += length
    assert d < 0.0, (done.truck, d, cum)
    (siding,) = [ln for ln in yard.lanes.values() if ln.end == start and ln.id.endswith("-in")]
    return siding.id, siding.length_m + d


def test_the_antenna_is_its_offset_back_along_the_driven_way(haiphong: Yard) -> None:
    """Sampled every half second, the antenna is `antenna_m` behind the front measured
    along what the truck drove (through nodes into the lane before), heading that way."""
    vehicle = dataclasses.replace(TERMINAL_TRACTOR, antenna_m=6.0)  # more node crossings
    planner, plans = planned(haiphong, vehicle, n=12)
    clock = Clock()
    drive = Drive(haiphong, planner.cells, vehicle, clock.at, Heard(clock))
    for plan in plans:
        drive.place(plan.truck, plan.steps[0].resource, 0.0)
        drive.follow(plan.truck, plan, 0.0)
    samples: list[tuple[str, float, float, tuple[float, float, float, float]]] = []

    def look(t: float) -> None:
        for plan in plans:
            at = drive.antenna(plan.truck, t, vehicle.antenna_m)
            samples.append((plan.truck, t, drive.odometer(plan.truck, t), at))

    clock.run(max(p.t_end for p in plans) * 3 + 300, 0.5, look)
    executed = {p.truck: p for p in drive.executed(clock.now)}
    starts = {p.truck: p.steps[0].resource for p in plans}
    crossed = moving = behind_start = 0
    for truck, _t, odo, (x, y, heading, speed) in samples:
        lane_id, along = driven_at(haiphong, executed[truck], starts[truck], odo - 6.0)
        lane = haiphong.lane(lane_id)
        expected = lane.geometry.interpolate(along)
        assert math.hypot(x - expected.x, y - expected.y) < 0.05, (truck, _t, lane_id, along)
        crossed += lane_id != driven_at(haiphong, executed[truck], starts[truck], odo)[0]
        moving += speed > 0.1
        behind_start += odo < 6.0  # not yet driven that far: in the siding behind
        coords = list(lane.geometry.coords)
        ends = list(
            itertools.accumulate(
                (math.dist(a, b) for a, b in itertools.pairwise(coords)), initial=0.0
            )
        )
        k = next(i for i in range(len(coords) - 1) if along <= ends[i + 1] + 1e-9)
        if ends[k] + 1.0 <= along <= ends[k + 1] - 1.0:  # away from a bend: the segment's way
            (ax, ay), (bx, by) = coords[k], coords[k + 1]
            compass = math.degrees(math.atan2(bx - ax, by - ay)) % 360.0
            assert abs((heading - compass + 180.0) % 360.0 - 180.0) < 0.5, (truck, _t)
    assert moving > 1000 and behind_start >= 12
    assert crossed > 50  # the antenna often still in the lane before the front's


def test_the_antenna_follows_a_curve_and_the_lane_behind_the_start() -> None:
    """A truck standing at a plain node has its antenna back on the lane into it; driving
    into a quarter circle, its antenna stays on the arc behind the front (not a chord)."""
    nodes = [Node("Z", -40.0, 0.0), Node("A", 0.0, 0.0), Node("B", 40.0, 0.0)]
    nodes += [Node("C", 60.0, 20.0), Node("D", 60.0, 60.0)]
    turn = np.linspace(0.0, math.pi / 2, 41)  # left from east to north around (40, 20)
    arc = list(zip(40.0 + 20.0 * np.sin(turn), 20.0 - 20.0 * np.cos(turn), strict=True))
    shapes = {"ZA": [(-40.0, 0.0), (0.0, 0.0)], "AB": [(0.0, 0.0), (40.0, 0.0)], "BC": arc}
    shapes |= {"CD": [(60.0, 20.0), (60.0, 60.0)], "DC": [(60.0, 60.0), (60.0, 20.0)]}
    lanes = [
        Lane(k, k[0], k[1], LineString(xy), LineString(xy).length, 5.0, LaneKind.MAIN)
        for k, xy in shapes.items()
    ]
    spot = ServicePoint("P", ServicePointKind.PARKING, "D")
    yard = Yard.build("curve", "1", Origin(106.9, 20.8), nodes, lanes, (), [spot])
    planner = FleetPlanner(LaneNetwork(yard, TERMINAL_TRACTOR))
    plan = planner.plan([Task("T1", "A", "P")]).plans["T1"]
    clock = Clock()
    drive = Drive(yard, planner.cells, TERMINAL_TRACTOR, clock.at, Heard(clock))
    drive.place("T1", "A", 0.0)
    assert drive.antenna("T1", 0.0, 3.0) == pytest.approx((-3.0, 0.0, 90.0, 0.0))
    drive.follow("T1", plan, 0.0)
    samples: list[tuple[float, float, tuple[float, float, float, float]]] = []

    def look(t: float) -> None:
        samples.append((t, drive.odometer("T1", t), drive.antenna("T1", t, 3.0)))

    clock.run(600.0, 0.1, look)
    (done,) = drive.executed(clock.now)
    on_arc = 0
    for t, odo, (x, y, heading, _) in samples:
        if odo < 3.0:  # not yet driven that far: back on the lane it came in by
            lane_id, along = "ZA", 37.0 + odo
        else:
            lane_id, along = driven_at(yard, done, "A", odo - 3.0)
        p = yard.lane(lane_id).geometry.interpolate(along)
        assert math.hypot(x - p.x, y - p.y) < 0.05, (t, odo, lane_id, along)
        if lane_id == "BC" and 2.0 < along < 29.0:
            on_arc += 1
            # On the circle (a chord from the front would cut inside it), along its tangent.
            assert math.hypot(x - 40.0, y - 20.0) == pytest.approx(20.0, abs=0.05)
            compass = 90.0 - math.degrees(along / 20.0)
            assert abs((heading - compass + 180.0) % 360.0 - 180.0) < 3.0
    assert on_arc > 20
    assert samples[-1][1] > 100.0  # it drove all the way
