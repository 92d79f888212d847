"""The independent plan checker: every conflict in a set of timed plans, from first principles.

It shares no code with the planner (only the plan and yard types): from each plan it
rebuilds the truck's trajectory — the distance its front has driven along its path as a
piecewise-linear function of time — and from those trajectories derives what every
truck occupies, then reports:

- `node`: two trucks in one node at once (a node is held from the front's arrival until
  the rear has cleared it by the safety gap);
- `conflict_group`: two trucks in one conflict group at once (a single-track road, lanes
  crossing without a node); `head-on` when they drive it in opposite directions; on a
  junction's connector, two trucks on it at once;
- `junction`: two trucks at once on two connectors that the yard declares in conflict
  (their swept bodies meet; `Lane.conflicts`);
- `gap`: a truck closer than its leader's length plus the gap on a lane;
- `overtaking`: a truck passing another on a lane;
- `speed`: faster than the lane's limit, declared or implied by the times;
- `swap`: two trucks exchanging nodes at the same instant (grid plans);
- `path`: a plan that is not a path (lanes that do not join its nodes, time running
  backwards, a stretch too short to drive at the declared speed).

Without a yard (grid MAPF plans: node steps only, unit moves) a node is held from its
step's `t_enter` until its `t_exit`, the classic vertex and swap conflicts.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from maps import AreaKind, Lane, Yard
from routing.plan import Plan, ResourceKind, Step

EPS = 1e-6
REACH_M = 1e-3
"""A front within a millimetre of a point has reached it: where a truck stands is known to
the millimetre at best (a node's position, projected onto the lane and back), and a body
that stops 10 µm short of clearing a place has cleared it."""


@dataclass(frozen=True, slots=True)
class Conflict:
    """One conflict: what kind, which trucks, where and when."""

    kind: str
    trucks: tuple[str, ...]
    resource: str
    t: float
    detail: str = ""

    def __str__(self) -> str:
        who = " and ".join(self.trucks)
        return f"{self.kind} at {self.resource} t={self.t:.3f}s: {who}" + (
            f" ({self.detail})" if self.detail else ""
        )


class _Trajectory:
    """A truck's front: distance driven along its path, piecewise linear in time."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.s: list[float] = []

    def add(self, t: float, s: float) -> None:
        if self.t and t < self.t[-1] - EPS:
            raise ValueError("time runs backwards")
        self.t.append(max(t, self.t[-1]) if self.t else t)
        self.s.append(s)

    def at(self, t: float) -> float:
        """Distance at time t (clamped to the ends)."""
        if t <= self.t[0]:
            return self.s[0]
        if t >= self.t[-1]:
            return self.s[-1]
        k = bisect.bisect_right(self.t, t) - 1
        t0, t1, s0, s1 = self.t[k], self.t[k + 1], self.s[k], self.s[k + 1]
        return s0 if t1 <= t0 else s0 + (s1 - s0) * (t - t0) / (t1 - t0)

    def reach(self, s: float) -> float:
        """The first time the front has driven `s` (inf if it never does)."""
        if s <= self.s[0] + REACH_M:
            return self.t[0]
        k = bisect.bisect_left(self.s, s - REACH_M)
        if k >= len(self.s):
            return math.inf
        s0, s1, t0, t1 = self.s[k - 1], self.s[k], self.t[k - 1], self.t[k]
        return t1 if s1 <= s0 else t0 + (t1 - t0) * max(0.0, s - REACH_M - s0) / (s1 - s0)


@dataclass(slots=True)
class _Use:
    """One truck's passage over one resource: where on its path, and how long it holds it."""

    truck: str
    s0: float
    s1: float
    t_in: float
    t_out: float
    direction: str = ""


def _across(a: list[_Use], b: list[_Use], resource: str) -> list[Conflict]:
    """Pairs of different trucks, one in `a` and one in `b`, whose holds overlap."""
    out: list[Conflict] = []
    tagged = sorted([(u, 0) for u in a] + [(u, 1) for u in b], key=lambda x: x[0].t_in)
    active: list[tuple[_Use, int]] = []
    for use, side in tagged:
        active = [(x, k) for x, k in active if x.t_out > use.t_in + EPS]
        for other, k in active:
            if k != side and other.truck != use.truck:
                out.append(
                    Conflict(
                        "junction",
                        (other.truck, use.truck),
                        resource,
                        use.t_in,
                        f"{other.truck} holds a crossing connector until {other.t_out:.3f}s",
                    )
                )
        active.append((use, side))
    return out


def check_plans(
    plans: Sequence[Plan],
    yard: Yard | None = None,
    *,
    length_m: float = 16.0,
    gap_m: float = 4.0,
    lengths: Mapping[str, float] | None = None,
) -> list[Conflict]:
    """Every conflict among the plans; on a yard with lengths and gap, else as grid plans."""
    if yard is None:
        return _check_grid(plans)
    return _YardCheck(yard, length_m, gap_m, lengths or {}).run(plans)


def _overlaps(uses: list[_Use], kind: str, resource: str) -> list[Conflict]:
    """Pairs of different trucks whose holding intervals overlap (sweep over start times)."""
    out: list[Conflict] = []
    uses = sorted(uses, key=lambda u: (u.t_in, u.t_out))
    active: list[_Use] = []
    for use in uses:
        active = [a for a in active if a.t_out > use.t_in + EPS]
        for a in active:
            if a.truck != use.truck:
                what = kind
                if kind == "conflict_group" and a.direction and a.direction != use.direction:
                    what = "head-on"
                out.append(
                    Conflict(
                        what,
                        (a.truck, use.truck),
                        resource,
                        use.t_in,
                        f"{a.truck} holds it until {a.t_out:.3f}s",
                    )
                )
        active.append(use)
    return out


def _check_grid(plans: Sequence[Plan]) -> list[Conflict]:
    out: list[Conflict] = []
    by_node: dict[str, list[_Use]] = defaultdict(list)
    moves: dict[tuple[str, str, float], str] = {}
    for plan in plans:
        steps = [s for s in plan.steps if s.kind is ResourceKind.NODE]
        for k, step in enumerate(steps):
            by_node[step.resource].append(_Use(plan.truck, 0, 0, step.t_enter, step.t_exit))
            if k and abs(steps[k - 1].t_exit - step.t_enter) > EPS:
                out.append(
                    Conflict(
                        "path",
                        (plan.truck,),
                        step.resource,
                        step.t_enter,
                        f"arrives at {step.t_enter} but left "
                        f"{steps[k - 1].resource} at {steps[k - 1].t_exit}",
                    )
                )
            if k:
                moves[(steps[k - 1].resource, step.resource, round(step.t_enter, 6))] = plan.truck
    for node, uses in by_node.items():
        out += _overlaps(uses, "node", node)
    for (u, v, t), truck in moves.items():
        other = moves.get((v, u, t))
        if other is not None and other != truck and u < v:
            out.append(Conflict("swap", (truck, other), f"{u}<->{v}", t))
    return sorted(out, key=lambda c: (c.t, c.kind, c.resource))


class _Tracer:
    """One truck's plan being traced step by step: its trajectory, where it has got to, and
    the nodes and lanes it has passed; a step that breaks the path is reported (`node` and
    `lane` then return False)."""

    def __init__(self, check: _YardCheck, truck: str) -> None:
        self.check = check
        self.yard = check.yard
        self.truck = truck
        self.traj = _Trajectory()
        self.s = 0.0
        self.node_at: list[tuple[str, float, float]] = []  # node, s there, time the front enters
        self.lane_at: list[tuple[str, float, float, float]] = []  # lane, s at start, at end, t in
        self.last_node: str | None = None
        self.last_t: float | None = None
        self.lane_progress: tuple[str, float] | None = None  # lane being driven, offset reached

    def bad(self, kind: str, resource: str, t: float, detail: str) -> None:
        self.check.bad(kind, self.truck, resource, t, detail)

    def node(self, step: Step) -> bool:
        """A step on a node: where the lane driven ends, or where the path begins."""
        yard = self.yard
        if step.resource not in yard.nodes:
            self.bad("path", step.resource, step.t_enter, "no such node")
            return False
        if self.lane_progress is not None:
            came = yard.lanes[self.lane_progress[0]]
            if came.end != step.resource or abs(self.lane_progress[1] - came.length_m) > 1e-3:
                self.bad(
                    "path",
                    step.resource,
                    step.t_enter,
                    f"lane {came.id} does not end here (or was not driven to its end)",
                )
                return False
            self.lane_progress = None
        elif self.last_node is not None:
            self.bad(
                "path",
                step.resource,
                step.t_enter,
                f"jumps from node {self.last_node} without a lane",
            )
            return False
        self.traj.add(step.t_enter, self.s)
        self.traj.add(step.t_exit, self.s)
        self.node_at.append((step.resource, self.s, step.t_enter))
        self.last_node = step.resource
        return True

    def lane(self, step: Step) -> bool:
        """A step along a lane (or a stretch of one), driven at its declared speed."""
        lane = self.yard.lanes.get(step.resource)
        if lane is None:
            self.bad("path", step.resource, step.t_enter, "no such lane")
            return False
        start = step.from_m
        end = lane.length_m if step.to_m is None else step.to_m
        if not self.continues(lane, step, start):
            return False
        drive = self.drive_time(lane, step, start, end)
        if drive is None:
            return False
        s, traj = self.s, self.traj
        traj.add(step.t_enter, s)
        traj.add(step.t_enter + min(drive, step.t_exit - step.t_enter), s + end - start)
        traj.add(step.t_exit, s + end - start)
        self.s += end - start
        self.lane_progress = (lane.id, end)
        return True

    def continues(self, lane: Lane, step: Step, start: float) -> bool:
        """Whether a lane step from `start` continues the path (recording a lane entered)."""
        s, last_node, lane_progress = self.s, self.last_node, self.lane_progress
        if lane_progress is None and last_node is None and self.last_t is None:
            # A plan may begin part-way along a lane (re-planned on the move).
            self.lane_at.append((lane.id, s - start, s - start + lane.length_m, step.t_enter))
        elif lane_progress is None:
            if lane.start != last_node or start > 1e-3:
                self.bad(
                    "path",
                    lane.id,
                    step.t_enter,
                    f"does not start at the truck's node {last_node}",
                )
                return False
            self.lane_at.append((lane.id, s, s + lane.length_m, step.t_enter))
        elif lane_progress[0] != lane.id or abs(lane_progress[1] - start) > 1e-3:
            self.bad(
                "path",
                lane.id,
                step.t_enter,
                f"stretch from {start:.2f} m does not continue {lane_progress}",
            )
            return False
        return True

    def drive_time(self, lane: Lane, step: Step, start: float, end: float) -> float | None:
        """How long the stretch takes at the step's declared speed (None: it has none), with
        a speed over the limit, or a step too short for its stretch, reported."""
        speed = step.speed_mps
        if speed is None or speed <= 0:
            self.bad("path", lane.id, step.t_enter, "lane step without a speed")
            return None
        if speed > lane.speed_limit_mps + 1e-9:
            self.bad(
                "speed",
                lane.id,
                step.t_enter,
                f"{speed:.3f} m/s over the limit {lane.speed_limit_mps:.3f} m/s",
            )
        drive = (end - start) / speed
        if drive > step.t_exit - step.t_enter + EPS:
            implied = (end - start) / max(step.t_exit - step.t_enter, 1e-12)
            kind = "speed" if implied > lane.speed_limit_mps + 1e-9 else "path"
            self.bad(
                kind,
                lane.id,
                step.t_enter,
                f"{end - start:.2f} m in {step.t_exit - step.t_enter:.3f} s is "
                f"{implied:.3f} m/s, more than its declared {speed:.3f} m/s",
            )
        return drive


class _YardCheck:
    """Checks plans on a yard, truck by truck and then resource by resource."""

    def __init__(
        self, yard: Yard, length_m: float, gap_m: float, lengths: Mapping[str, float]
    ) -> None:
        self.yard = yard
        self.length_m = length_m
        self.gap_m = gap_m
        self.lengths = lengths
        self.out: list[Conflict] = []
        self.nodes: dict[str, list[_Use]] = defaultdict(list)
        self.groups: dict[str, list[_Use]] = defaultdict(list)
        self.junctions = {a.id for a in yard.areas.values() if a.kind is AreaKind.JUNCTION}
        self.crossing = {
            (min(lane.id, other), max(lane.id, other))
            for lane in yard.lanes.values()
            for other in lane.conflicts
        }
        self.lanes: dict[str, list[tuple[_Use, _Trajectory]]] = defaultdict(list)

    def held(self, lane_id: str) -> str | None:
        """What a truck on this lane holds: a connector with declared conflicts itself, any
        other lane of a conflict group the whole group."""
        lane = self.yard.lanes[lane_id]
        if lane.conflicts or lane.conflict_group in self.junctions:
            return lane.id
        return lane.conflict_group

    def length(self, truck: str) -> float:
        return self.lengths.get(truck, self.length_m)

    def bad(self, kind: str, truck: str, resource: str, t: float, detail: str) -> None:
        self.out.append(Conflict(kind, (truck,), resource, t, detail))

    def run(self, plans: Sequence[Plan]) -> list[Conflict]:
        for plan in plans:
            self.trace(plan)
        for node, uses in self.nodes.items():
            self.out += _overlaps(uses, "node", node)
        for group, uses in self.groups.items():
            self.out += _overlaps(uses, "conflict_group", group)
        for a, b in sorted(self.crossing):
            if a in self.groups and b in self.groups:
                self.out += _across(self.groups[a], self.groups[b], f"{a} x {b}")
        for lane, passages in self.lanes.items():
            self.check_lane(lane, passages)
        return sorted(self.out, key=lambda c: (c.t, c.kind, c.resource, c.trucks))

    def trace(self, plan: Plan) -> None:
        """Rebuild one truck's trajectory, check it is a drivable path, record its passages."""
        tr = _Tracer(self, plan.truck)
        for step in plan.steps:
            if step.kind is ResourceKind.CONFLICT_GROUP:
                continue
            if tr.last_t is not None and abs(step.t_enter - tr.last_t) > EPS:
                self.bad(
                    "path",
                    plan.truck,
                    step.resource,
                    step.t_enter,
                    f"enters at {step.t_enter:.3f}s but its previous step ends at {tr.last_t:.3f}s",
                )
            on = tr.node(step) if step.kind is ResourceKind.NODE else tr.lane(step)
            if not on:
                return  # a broken path
            tr.last_t = step.t_exit
        if not tr.traj.t:
            return
        self.record(tr)

    def record(self, tr: _Tracer) -> None:
        """The holds of one truck's path on nodes, conflict groups and lanes.

        A truck standing at a stop line has not entered the junction: holds begin when the
        step begins, and end when the rear plus the gap has cleared the resource."""
        truck, traj = tr.truck, tr.traj
        footprint = self.length(truck) + self.gap_m
        for node, s_node, t_in in tr.node_at:
            self.nodes[node].append(
                _Use(truck, s_node, s_node, t_in, traj.reach(s_node + footprint))
            )
        run: list[tuple[str, float, float, float]] = []
        for lane_id, s0, s1, t_in in [*tr.lane_at, ("", math.inf, math.inf, math.inf)]:
            group = self.held(lane_id) if lane_id else None
            if run and (group != self.held(run[-1][0]) or s0 > run[-1][2]):
                g = self.held(run[0][0])
                assert g is not None
                first = self.yard.lanes[run[0][0]]
                self.groups[g].append(
                    _Use(
                        truck,
                        run[0][1],
                        run[-1][2],
                        run[0][3],
                        traj.reach(run[-1][2] + footprint),
                        f"{first.start}>{first.end}",
                    )
                )
                run = []
            if group is not None:
                run.append((lane_id, s0, s1, t_in))
            if lane_id:
                self.lanes[lane_id].append(
                    (_Use(truck, s0, s1, t_in, traj.reach(s1 + footprint)), traj)
                )

    def check_lane(self, lane: str, passages: list[tuple[_Use, _Trajectory]]) -> None:
        """Followers keep the leader's length plus the gap; nobody overtakes."""
        passages.sort(key=lambda p: (p[0].t_in, -p[0].s0))
        for i, (a, ta) in enumerate(passages):
            for b, tb in passages[i + 1 :]:
                if b.t_in >= a.t_out - EPS:
                    break
                if a.truck != b.truck:
                    self._pair(lane, a, ta, b, tb)

    def _pair(self, lane: str, a: _Use, ta: _Trajectory, b: _Use, tb: _Trajectory) -> None:
        """One pair on one lane: the one ahead when both are on it leads (a plan may begin
        part-way along a lane, entering it late but in front)."""

        def gap(lead: _Use, tl: _Trajectory, follow: _Use, tf: _Trajectory, t: float) -> float:
            return (tl.at(t) - lead.s0) - (tf.at(t) - follow.s0)

        t0 = max(a.t_in, b.t_in)
        if gap(a, ta, b, tb, t0) >= 0:
            lead, tl, follow, tf = a, ta, b, tb
        else:
            lead, tl, follow, tf = b, tb, a, ta
        t1 = min(lead.t_out, tf.reach(follow.s1))
        times = {t0, t1} | {t for t in (*tl.t, *tf.t) if t0 < t < t1}
        finite = sorted(t for t in times if not math.isinf(t))
        if not finite:
            return
        worst, when = min((gap(lead, tl, follow, tf, t), t) for t in finite)
        need = self.length(lead.truck) + self.gap_m
        if worst < -EPS:
            self.out.append(
                Conflict(
                    "overtaking",
                    (lead.truck, follow.truck),
                    lane,
                    when,
                    f"{follow.truck} passes {lead.truck}",
                )
            )
        elif worst < need - 1e-3:
            self.out.append(
                Conflict(
                    "gap",
                    (lead.truck, follow.truck),
                    lane,
                    when,
                    f"{worst:.2f} m front to front, at least {need:.2f} m needed",
                )
            )
