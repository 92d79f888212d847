"""The independent checker: hand-made violations of each kind, and the mutation test."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from shapely.geometry import LineString

from maps import AreaKind, Lane, LaneKind, Node, Origin, Yard
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


def heading(lane: Lane, at_end: bool) -> float:
    """The lane's direction (radians) where it ends or where it begins."""
    xy = list(lane.geometry.coords)
    (x0, y0), (x1, y1) = (xy[-2], xy[-1]) if at_end else (xy[0], xy[1])
    return math.atan2(y1 - y0, x1 - x0)


def straight_on(yard: Yard, lane: Lane) -> tuple[Lane, Lane]:
    """The junction's connector that goes straight on from the end of `lane`, and the lane
    after it (the movement with the smallest turn)."""

    def turn(connector: Lane) -> float:
        d = heading(connector, True) - heading(lane, True)
        return abs(math.atan2(math.sin(d), math.cos(d)))

    connectors = [c for c in yard.lanes.values() if c.start == lane.end]
    assert connectors and all(c.conflict_group for c in connectors), lane.id
    connector = min(connectors, key=lambda c: (turn(c), c.id))
    after = next(x for x in yard.lanes.values() if x.start == connector.end)
    return connector, after


def main_road(yard: Yard) -> Lane:
    """A long, fast through lane between two junctions: room to follow, catch up and pass."""
    return min(
        (
            lane
            for lane in yard.lanes.values()
            if lane.kind is LaneKind.MAIN
            and lane.conflict_group is None
            and lane.length_m >= 150.0
            and lane.speed_limit_mps >= 6.9
            and any(c.start == lane.end for c in yard.lanes.values())
        ),
        key=lambda lane: lane.id,
    )


def single_track() -> Yard:
    """A hand-drawn centre-line yard: a 60 m single-track road (two opposite lanes in one
    conflict group) between two two-way roads."""
    nodes = [
        Node("W", 0.0, 0.0),
        Node("A", 40.0, 0.0),
        Node("B", 100.0, 0.0),
        Node("E", 140.0, 0.0),
    ]
    at = {n.id: n for n in nodes}
    lanes = []
    for lane_id, a, b, group in [
        ("west-in", "W", "A", None),
        ("west-out", "A", "W", None),
        ("track-ab", "A", "B", "TRACK"),
        ("track-ba", "B", "A", "TRACK"),
        ("east-in", "E", "B", None),
        ("east-out", "B", "E", None),
    ]:
        geom = LineString([(at[a].x, at[a].y), (at[b].x, at[b].y)])
        lanes.append(Lane(lane_id, a, b, geom, geom.length, 5.0, LaneKind.MAIN, group))
    return Yard.build("single-track", "1", Origin(106.9, 20.8), nodes, lanes, (), ())


Movement = tuple[Lane, Lane]
"""A way through a junction: its connector and the lane after it."""


def two_movements(yard: Yard, conflicting: bool) -> tuple[Movement, Movement]:
    """Two movements through one junction from different stop lines onto different lanes:
    the first goes straight on from the main road; the second is one whose swept bodies
    come near its own (`Lane.conflicts`; a junction without them is exclusive as a whole),
    or, with `conflicting=False`, the first pair in the yard whose sweeps stay apart."""

    def movement(c: Lane) -> Movement:
        return c, next(x for x in yard.lanes.values() if x.start == c.end)

    def others(c1: Lane) -> list[Lane]:
        return sorted(
            (
                c
                for c in yard.lanes.values()
                if c.conflict_group == c1.conflict_group and c.start != c1.start and c.end != c1.end
            ),
            key=lambda c: c.id,
        )

    if conflicting:
        c1, _ = straight_on(yard, main_road(yard))
        c2 = next(c for c in others(c1) if c.id in c1.conflicts or not c1.conflicts)
        return movement(c1), movement(c2)
    for c1 in sorted(yard.lanes.values(), key=lambda c: c.id):
        if c1.conflicts:
            for c2 in others(c1):
                if c2.id not in c1.conflicts:
                    return movement(c1), movement(c2)
    pytest.skip("no junction in this yard lets two movements be driven at once")


def at_once(yard: Yard, m1: Movement, m2: Movement, t_b: float) -> list[Conflict]:
    """A drives m1 from t = 0, B drives m2 from t_b (at the slowest limit of either): what the
    checker finds between them in the junction."""
    (c1, out1), (c2, out2) = m1, m2
    speed = min(x.speed_limit_mps for x in (c1, out1, c2, out2))
    a = drive(yard, "A", [c1.id, out1.id], 0.0, speed)
    b = drive(yard, "B", [c2.id, out2.id], t_b, speed)
    # Different stop lines, connectors and lanes out: whatever the two share is the junction.
    return [c for c in check_plans([a, b], yard) if set(c.trucks) == {"A", "B"}]


def test_two_trucks_in_one_junction(haiphong: Yard) -> None:
    """Two movements through one compiled junction whose swept bodies meet: one truck at a
    time, from its front crossing the stop line until its rear and the gap have left the
    junction."""
    m1, m2 = two_movements(haiphong, conflicting=True)
    junction = m1[0].conflict_group
    assert junction is not None and haiphong.areas[junction].kind is AreaKind.JUNCTION
    speed = min(x.speed_limit_mps for x in (*m1, *m2))
    clear = (m1[0].length_m + 16.0 + 4.0) / speed  # A's rear and the gap past the junction
    assert at_once(haiphong, m1, m2, 0.0) != []
    assert at_once(haiphong, m1, m2, clear - 0.5) != []
    assert at_once(haiphong, m1, m2, clear + 0.5) == []


def test_two_movements_crossing_in_a_junction_are_not_head_on(haiphong: Yard) -> None:
    """Head-on is for a single-track road's two directions, not for movements that cross."""
    m1, m2 = two_movements(haiphong, conflicting=True)
    found = at_once(haiphong, m1, m2, 0.0)
    assert found != []
    assert "head-on" not in kinds(found), found


def test_movements_whose_sweeps_stay_apart_share_a_junction(haiphong: Yard) -> None:
    """Connectors not in each other's `conflicts` (two right turns, say) may be driven at once."""
    m1, m2 = two_movements(haiphong, conflicting=False)
    assert at_once(haiphong, m1, m2, 0.0) == []


def test_following_too_close_and_overtaking(haiphong: Yard) -> None:
    lane = main_road(haiphong)
    connector, after = straight_on(haiphong, lane)
    a = drive(haiphong, "A", [lane.id, connector.id, after.id], 0.0, 5.0)  # the leader drives on
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


def test_head_on_in_a_conflict_group() -> None:
    """The compiled yards have no single-track road: a hand-drawn one."""
    yard = single_track()
    inward = drive(yard, "IN", ["track-ab", "east-out"], 0.0, 2.0)
    outward = drive(yard, "OUT", ["track-ba", "west-out"], 1.0, 2.0)
    assert "head-on" in kinds(check_plans([inward, outward], yard))
    # The same direction, one after the other but too soon: in the group at once, not head-on.
    follower = drive(yard, "NEXT", ["track-ab", "east-out"], 1.0, 2.0)
    assert "conflict_group" in kinds(found := check_plans([inward, follower], yard)), found
    assert "head-on" not in kinds(found)
    # Coming the other way once IN's rear and the gap have left the road: nothing; just before.
    clear = (60.0 + 16.0 + 4.0) / 2.0
    later = drive(yard, "OUT", ["track-ba", "west-out"], clear + 0.1, 2.0)
    assert check_plans([inward, later], yard) == []
    sooner = drive(yard, "OUT", ["track-ba", "west-out"], clear - 0.5, 2.0)
    assert "head-on" in kinds(check_plans([inward, sooner], yard))


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


QUEUE_S = 10.0
"""A follower arriving at a node less than this after the truck ahead has cleared it queues
behind it. (Trucks follow less closely through compiled junctions, which are granted only
when a truck can leave them whole: at most a few arrive within 5 s.)"""


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
            if 0 <= slack < QUEUE_S:
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
    lane = main_road(haiphong)
    connector, after = straight_on(haiphong, lane)
    a = drive(haiphong, "A", [lane.id, connector.id, after.id], 0.0, 5.0)
    b = drive(haiphong, "B", [lane.id], 3.6, 5.0)  # 18 m behind
    found = [c for c in check_plans([a, b], haiphong, length_m=truck_length) if c.kind == "gap"]
    assert bool(found) == (truck_length + 4.0 > 18.0)
