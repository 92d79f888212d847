"""Deadlocks created while executing — a manual driver ignoring the plan order — found and broken.

Each scenario: the wait-for graph finds the circle, the resolver picks who yields (an
autonomous truck if one can, else the driver is told), everyone then reaches their goal,
and no node or lane cell was ever occupied by two trucks.
"""

from __future__ import annotations

import math

import networkx as nx
from shapely.geometry import LineString

from maps import Lane, LaneKind, Node, Origin, ServicePoint, ServicePointKind, Yard, check_yard
from routing.cells import CellGraph
from routing.deadlock import DeadlockResolver, parked_body, passages_along, resolve_in
from routing.execution import Execution, TruckRun
from routing.network import LaneNetwork
from routing.planner import FleetPlanner, Task
from routing.rollout import Rollout


class Sketch:
    """A small yard drawn by hand: nodes, lanes and dead-end sidings."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.lanes: list[Lane] = []
        self.stops: list[ServicePoint] = []

    def node(self, name: str, x: float, y: float) -> None:
        self.nodes[name] = Node(name, x, y)

    def lane(
        self,
        lane_id: str,
        a: str,
        b: str,
        kind: LaneKind = LaneKind.MAIN,
        group: str | None = None,
        speed: float = 5.0,
    ) -> None:
        na, nb = self.nodes[a], self.nodes[b]
        geom = LineString([(na.x, na.y), (nb.x, nb.y)])
        self.lanes.append(Lane(lane_id, a, b, geom, geom.length, speed, kind, group))

    def two_way(self, name: str, a: str, b: str) -> None:
        self.lane(f"{name}-ab", a, b)
        self.lane(f"{name}-ba", b, a)

    def bay(self, sp: str, at: str, dx: float, dy: float) -> None:
        """A dead-end siding from node `at` to a stop (dx, dy) away, in and out the same way."""
        n = self.nodes[at]
        self.node(f"{sp}.n", n.x + dx, n.y + dy)
        self.lane(f"{sp}-in", at, f"{sp}.n", LaneKind.SERVICE, sp, 2.5)
        self.lane(f"{sp}-out", f"{sp}.n", at, LaneKind.SERVICE, sp, 2.5)
        self.stops.append(ServicePoint(sp, ServicePointKind.PARKING, f"{sp}.n"))

    def yard(self) -> Yard:
        yard = Yard.build(
            "sketch", "1", Origin(106.9, 20.8), self.nodes.values(), self.lanes, (), self.stops
        )
        # A centre-line drawing (nodes are the junctions): the body rules are for compiled yards.
        problems = check_yard(yard, bodies=False)
        assert problems == [], problems
        return yard


def manual(
    cells: CellGraph, yard: Yard, truck: str, start: str, goal: str, priority: int
) -> TruckRun:
    route = nx.shortest_path(
        yard.graph,
        yard.service_points[start].node,
        yard.service_points[goal].node,
        weight="length_m",
    )
    return TruckRun(truck, passages_along(cells, False, route), priority, manual=True)


def drive(
    ex: Execution, cells: CellGraph, start_at: dict[str, float] | None = None, until: float = 1500.0
) -> tuple[Rollout, DeadlockResolver]:
    resolver = DeadlockResolver(cells)
    rollout = Rollout(ex, start_at=start_at or {}, on_deadlock=resolve_in(resolver))
    assert rollout.run(until_s=until), {t: (r.at, len(r.passages)) for t, r in ex.runs.items()}
    assert rollout.collisions == []
    for run in ex.runs.values():
        assert run.finished
    return rollout, resolver


def time_to(run: TruckRun, resource_prefix: str) -> float:
    """Free-driving time from the start of a run to the first passage named like this."""
    t = 0.0
    for p in run.passages[run.at :]:
        if p.resource.startswith(resource_prefix):
            return t
        t += (p.s_out - p.s_in) / p.speed_mps if p.speed_mps else 0.0
    raise AssertionError(resource_prefix)


def fuel_station() -> Yard:
    """A fuel station up a 25 m single-track road off a two-way road (the way the generator
    drew one before yards were compiled): the road's two lanes share one conflict group,
    three pumps are dead-end bays off its top node, and a bay at each end of the road below
    is somewhere to come from and go to."""
    s = Sketch()
    s.node("W", 0.0, 0.0)
    s.node("F0", 60.0, 0.0)
    s.node("E", 120.0, 0.0)
    s.node("F1", 60.0, 25.0)
    s.two_way("land-1", "W", "F0")
    s.two_way("land-2", "F0", "E")
    s.lane("access-in", "F0", "F1", group="ACCESS", speed=2.5)
    s.lane("access-out", "F1", "F0", group="ACCESS", speed=2.5)
    for k, dx in enumerate((-14.0, 0.0, 14.0)):
        s.bay(f"P{k + 1}", "F1", dx, 22.0)
    s.bay("WEST", "W", -22.0, 0.0)
    s.bay("EAST", "E", 22.0, 0.0)
    yard = s.yard()
    road = [yard.lanes["access-in"], yard.lanes["access-out"]]
    assert {lane.conflict_group for lane in road} == {"ACCESS"}
    assert (road[0].start, road[0].end) == (road[1].end, road[1].start)
    return yard


def test_head_on_on_the_single_track_road() -> None:
    """A driver turns into the fuel station's access road while a truck is coming out."""
    yard = fuel_station()
    net = LaneNetwork(yard)
    planner = FleetPlanner(net)
    plans = planner.plan([Task("OUT", "P1", "EAST", release_s=120.0)]).plans
    body = parked_body(planner.cells)
    ex = Execution.of(plans, yard, net.vehicle.footprint_m, parked=body)
    ex.add(manual(planner.cells, yard, "IN", "WEST", "P2", 1), body)
    ex._build_order()
    out_on_road = next(s.t_enter for s in plans["OUT"].steps if s.resource == "access-out")
    start_in = out_on_road + 3.0 - time_to(ex.runs["IN"], "lane:access-in")
    rollout, resolver = drive(ex, planner.cells, {"IN": start_in})
    assert sorted(rollout.deadlocks_seen[0]) == ["IN", "OUT"]
    first = resolver.log[0]
    # The truck coming out has nowhere to go back to (a dead-end pump bay behind it):
    # the driver is told to reverse out of the single-track road, onto the road it came by.
    assert (first.truck, first.action) == ("IN", "back-off")
    assert first.to is not None and first.to.startswith("lane:land-1-ab@")


def test_two_trucks_swapping_places() -> None:
    """Pump 1 to pump 2 and pump 2 to pump 1 at once, through the one junction between them."""
    yard = fuel_station()
    net = LaneNetwork(yard)
    planner = FleetPlanner(net)
    plans = planner.plan([Task("A", "P1", "P2")]).plans  # planned without B
    body = parked_body(planner.cells)
    ex = Execution.of(plans, yard, net.vehicle.footprint_m, parked=body)
    ex.add(manual(planner.cells, yard, "B", "P2", "P1", 1), body)
    ex._build_order()
    rollout, resolver = drive(ex, planner.cells)
    assert sorted(rollout.deadlocks_seen[0]) == ["A", "B"]
    first = resolver.log[0]
    # The autonomous truck leaves the bays for a free spot (the nearest: the third pump's
    # bay off the same node) and comes back afterwards.
    assert (first.truck, first.action) == ("A", "detour")
    assert first.to == yard.service_points["P3"].node


def test_swapping_pumps_on_the_compiled_fuel_loop(haiphong: Yard) -> None:
    """The generated fuel station is a one-way loop with drive-through bays: the same swap
    needs nobody to yield; each follows the other round the loop into the bay it left."""
    p1, p2 = (sp.id for sp in haiphong.service_points_of(ServicePointKind.FUEL_PUMP)[:2])
    net = LaneNetwork(haiphong)
    planner = FleetPlanner(net)
    plans = planner.plan([Task("A", p1, p2)]).plans  # planned without B
    body = parked_body(planner.cells)
    ex = Execution.of(plans, haiphong, net.vehicle.footprint_m, parked=body)
    ex.add(manual(planner.cells, haiphong, "B", p2, p1, 1), body)
    ex._build_order()
    rollout, resolver = drive(ex, planner.cells)
    assert rollout.deadlocks_seen == [] and resolver.log == []


def box_junction() -> Yard:
    """Four arms into a one-way box of four 24 m sides; a bay at the end of each arm."""
    s = Sketch()
    corners = [(0.0, 0.0), (24.0, 0.0), (24.0, 24.0), (0.0, 24.0)]
    outward = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    for i, (x, y) in enumerate(corners):
        s.node(f"B{i}", x, y)
    for i in range(4):
        s.lane(f"side{i}", f"B{i}", f"B{(i + 1) % 4}")
    for i, ((x, y), (ox, oy)) in enumerate(zip(corners, outward, strict=True)):
        s.node(f"O{i}", x + 45 * ox, y + 45 * oy)
        s.two_way(f"arm{i}", f"O{i}", f"B{i}")
        s.bay(f"S{i}", f"O{i}", 22 * ox, 0)
        s.bay(f"G{i}", f"O{i}", 0, 22 * oy)
    return s.yard()


def test_four_way_intersection_standoff() -> None:
    """Four drivers enter the box junction at once, each going straight across."""
    yard = box_junction()
    cells = CellGraph(LaneNetwork(yard))
    ex = Execution(cells.footprint)
    body = parked_body(cells)
    for i in range(4):
        ex.add(manual(cells, yard, f"T{i}", f"S{i}", f"G{(i + 2) % 4}", i), body)
    ex._build_order()
    rollout, resolver = drive(ex, cells)
    assert sorted(rollout.deadlocks_seen[0]) == ["T0", "T1", "T2", "T3"]
    first = resolver.log[0]
    # Nobody can reverse (each has a truck behind it): one leaves the box by the nearest
    # arm to a free bay, and comes back when the others are through.
    assert first.action == "detour"
    assert first.truck == "T3"  # the lowest priority


def block_loop() -> Yard:
    """A one-way loop of four 30 m sides round a block, a bay at each corner, a spare at N0."""
    s = Sketch()
    corners = [(0.0, 0.0), (30.0, 0.0), (30.0, 30.0), (0.0, 30.0)]
    for i, (x, y) in enumerate(corners):
        s.node(f"N{i}", x, y)
    for i in range(4):
        s.lane(f"side{i}", f"N{i}", f"N{(i + 1) % 4}")
    away = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    for i, (dx, dy) in enumerate(away):
        s.bay(f"P{i}", f"N{i}", 16 * dx, 16 * dy)
    s.bay("SPARE", "N0", -22, 0)
    return s.yard()


def test_circular_wait_of_four() -> None:
    """Four trucks round a block, each wanting the side the next one stands on."""
    yard = block_loop()
    net = LaneNetwork(yard)
    planner = FleetPlanner(net)
    body = parked_body(planner.cells)
    # One autonomous truck, planned alone; three drivers who ignore its plan.
    plans = planner.plan([Task("A0", "P0", "P3")]).plans
    ex = Execution.of(plans, yard, net.vehicle.footprint_m, parked=body)
    for i in (1, 2, 3):
        ex.add(manual(planner.cells, yard, f"M{i}", f"P{i}", f"P{(i + 3) % 4}", i), body)
    ex._build_order()
    rollout, resolver = drive(ex, planner.cells)
    assert sorted(rollout.deadlocks_seen[0]) == ["A0", "M1", "M2", "M3"]
    first = resolver.log[0]
    assert first.action == "detour"
    assert first.to == yard.service_points["SPARE"].node
    assert not math.isnan(rollout.t)
