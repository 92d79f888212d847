"""A simulated truck's wheels: they drive what the agent core commands, and no further.

The core says how far the truck may go (`drivers.agent.core.DriveCommand`: up to a
released node of its order, or stand). The wheels take the way there from the order's
edges (yard lanes, each with the edge's speed limit) and drive it with `sim.kinematics`:
speeding up, cruising, braking to stand at the commanded node. Told to stand, they brake
at the service rate along the way they are on. A command that leaves less room than the
service brakes need is a hard brake, and a way that does not start where the truck is a
misalignment: both are drive problems the report counts (there must be none).

What they drove is recorded as plan steps (lane stretches at most a metre of speeding up
or braking long, nodes) for routing's checkers. The simulated truck asks them where the
front and the antenna are, and when its situation changes next: the front at a node, the
rear (plus the safety gap) clear of one, the start of braking for the end of the way,
coming to a stand.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from shapely.geometry import Point

from maps import Lane, Yard
from routing.plan import Plan, ResourceKind, Step
from routing.vehicle import VehicleClass
from sim.kinematics import Profile, profile

TOL = 1e-6
CUT_M = 0.05
"""Lane metres this close are the same place (a cell boundary on the order's nodes)."""
REAR_PAST_M = 0.1
"""The receiver speaks when the rear (plus the gap) is this far past a node: a report
exactly on the boundary would hand a junction over within the trace's rounding."""
PIECE_S = 0.25
"""Speeding up or braking is traced in pieces this long (the checkers read a trace as
constant speed per piece: within a centimetre of the truck)."""
_ALONG: dict[tuple[str, float, float], float] = {}
"""Lane metres of order nodes, shared (cell boundaries recur from order to order)."""
HISTORY_M = 60.0
"""Legs the whole truck has left this far behind are forgotten (antenna and body need less)."""


def lane_into(yard: Yard, node: str, after: Lane | None) -> str | None:
    """A lane ending at `node`: the straightest into `after`, never a U-turn (None if there
    is none); with no `after`, the first by id."""
    lanes = sorted(str(d["lane"]) for _, _, d in yard.graph.in_edges(node, data=True))
    if after is None:
        return lanes[0] if lanes else None
    a0, a1 = after.geometry.coords[0], after.geometry.coords[1]
    out = math.atan2(a1[1] - a0[1], a1[0] - a0[0])

    def turn(lane_id: str) -> float:
        b0, b1 = yard.lane(lane_id).geometry.coords[-2:]
        into = math.atan2(b1[1] - b0[1], b1[0] - b0[0])
        return abs((out - into + math.pi) % (2 * math.pi) - math.pi)

    best = min(lanes, key=turn, default=None)
    return best if best is not None and turn(best) < math.pi / 2 else None


@dataclass(frozen=True, slots=True)
class Way:
    """One edge of the order to drive: its lane, the edge's speed limit (m/s), and the
    stretch of the lane between its nodes (None: from the start, to the end)."""

    lane: str
    limit: float | None = None
    from_m: float = 0.0
    to_m: float | None = None


@dataclass(frozen=True, slots=True)
class Leg:
    """A lane on the truck's way, where it starts on the way (metres), its limit."""

    lane: str
    s_in: float
    length: float
    limit: float
    node: str
    """The node at its end."""
    from_m: float = 0.0
    """Where on its lane it starts."""

    @property
    def to_m(self) -> float:
        return self.from_m + self.length

    @property
    def s_out(self) -> float:
        return self.s_in + self.length


@dataclass
class WheelProblems:
    """What must not happen; the report counts them."""

    hard_brakes: list[str] = field(default_factory=list)
    misaligned: list[str] = field(default_factory=list)


class Wheels:
    """One truck's motion along the way its orders give it."""

    def __init__(
        self,
        truck: str,
        yard: Yard,
        vehicle: VehicleClass,
        node: str,
        t: float,
        problems: WheelProblems,
        every_m: float | None = None,
    ) -> None:
        """`every_m`: a moment every so many metres driven, too (None: only those above)."""
        self.truck = truck
        self.every_m = every_m
        self.yard = yard
        self.vehicle = vehicle
        self.problems = problems
        self.start = node
        self.legs: list[Leg] = []
        self.profile = Profile.standing(t, 0.0)
        self.committed = t
        self.trace: list[Step] = []
        self.trace.append(Step(node, ResourceKind.NODE, t, t))

    # -- where it is -------------------------------------------------------------------

    def s(self, t: float) -> float:
        """Metres driven by t (the odometer)."""
        return self.profile.s(t)

    def moving(self, t: float) -> bool:
        return self.profile.t_end > t + TOL

    def _front(self, s: float) -> int | None:
        """Index of the leg the front is inside at s (None: standing on a node)."""
        for k in range(len(self.legs) - 1, -1, -1):
            leg = self.legs[k]
            if leg.s_in < s - TOL:
                return k if s < leg.s_out - TOL else None
        return None

    def node_at(self, s: float) -> str:
        """The node the front stands on at s, or the last it passed."""
        k = self._front(s)
        if k is None:
            for leg in reversed(self.legs):
                if leg.s_in < s - TOL:
                    return leg.node
            return self.start
        return self.legs[k - 1].node if k > 0 else self._before(k)

    def _before(self, k: int) -> str:
        return self.yard.lane(self.legs[k].lane).start

    def pose(self, t: float) -> tuple[float, float, float, float]:
        """(x, y, compass heading in degrees, speed m/s) of the front at t."""
        return self._point(self.profile.s(t), self.profile.v(t))

    def antenna(self, t: float) -> tuple[float, float, float, float]:
        """(x, y, compass heading, speed) of the GNSS antenna, `antenna_m` behind the front
        along the way it drove."""
        return self._point(self.profile.s(t) - self.vehicle.antenna_m, self.profile.v(t))

    def _point(self, s: float, v: float) -> tuple[float, float, float, float]:
        lane, at = self._lane_at(s)
        if lane is None:
            node = self.yard.node(self.start)
            return node.x, node.y, 0.0, v
        g = lane.geometry
        at = min(lane.length_m, max(0.0, at))
        q = g.interpolate(min(lane.length_m, at + 1.0))
        r = g.interpolate(max(0.0, at - 1.0))
        here = g.interpolate(at)
        return here.x, here.y, math.degrees(math.atan2(q.x - r.x, q.y - r.y)) % 360.0, v

    def _lane_at(self, s: float) -> tuple[Lane | None, float]:
        """The lane at way metres s and how far along it: behind the first leg, back along
        the lanes into the start (the siding behind a spot)."""
        for leg in reversed(self.legs):
            if leg.s_in <= s + TOL:
                return self.yard.lane(leg.lane), leg.from_m + s - leg.s_in
        first_in = self.legs[0].s_in if self.legs else 0.0
        node = self._before(0) if self.legs else self.start
        back = first_in - s
        if self.legs and self.legs[0].from_m > 0.0:  # it started mid-lane: back along it
            lane = self.yard.lane(self.legs[0].lane)
            return lane, self.legs[0].from_m - back
        after = self.yard.lane(self.legs[0].lane) if self.legs else None
        lane_id = lane_into(self.yard, node, after)
        if lane_id is None:
            return (after, 0.0) if after is not None else (None, 0.0)
        lane = self.yard.lane(lane_id)
        return lane, lane.length_m - back

    def along(self, lane: str, x: float, y: float) -> float:
        """Metres along the lane of the point on it nearest (x, y)."""
        key = (lane, round(x, 3), round(y, 3))
        at = _ALONG.get(key)
        if at is None:
            at = _ALONG[key] = float(self.yard.lane(lane).geometry.project(Point(x, y)))
        return at

    # -- driving -----------------------------------------------------------------------

    def drive(self, ways: Sequence[Way], now: float) -> None:
        """Drive up to the end of `ways` (the order's edges from where the truck is to the
        commanded node) and stand there."""
        self._commit(now)
        s, v = self.profile.s(now), self.profile.v(now)
        k = self._front(s)
        keep = self.legs[: k + 1] if k is not None else [g for g in self.legs if g.s_in < s - TOL]
        ways = list(ways)
        if k is not None:  # inside a lane: the way goes on along it, or from its end
            ways = self._from(self.legs[k], ways, now)
        elif keep:
            last = keep[-1]
            if ways and ways[0].lane == last.lane and abs(ways[0].from_m - last.from_m) < CUT_M:
                ways = ways[1:]  # the core has yet to count the node it stands on
            ways = self._from(last, ways, now)
        elif ways and self.yard.lane(ways[0].lane).start != self.start:
            ways = self._misaligned(ways, self.start, now)
        legs = keep
        end = keep[-1].s_out if keep else 0.0
        if k is None:
            end = max(end, s)
        for way in ways:
            road = self.yard.lane(way.lane)
            limit = min(road.speed_limit_mps, self.vehicle.empty_speed_mps)
            if way.limit:  # (the order's speeds are rounded to the mm/s)
                limit = min(limit, way.limit)
            to_m = road.length_m if way.to_m is None else way.to_m
            node = road.end if to_m >= road.length_m - CUT_M else f"{road.id}@{to_m:.2f}"
            legs.append(Leg(road.id, end, to_m - way.from_m, limit, node, way.from_m))
            end += to_m - way.from_m
        self.legs = legs
        self._profile(now, s, v, math.inf)

    def stand(self, now: float) -> None:
        """Stop as soon as the service brakes allow, on the way already taken."""
        self._commit(now)
        s, v = self.profile.s(now), self.profile.v(now)
        self._profile(now, s, v, s + v * v / (2 * self.vehicle.brake_mps2))

    def _from(self, leg: Leg, ways: list[Way], now: float) -> list[Way]:
        """The ways that go on from the leg the front is on (or at the end of)."""
        if not ways:
            return ways
        first = ways[0]
        if first.lane == leg.lane and abs(first.from_m - leg.from_m) < CUT_M:
            return ways[1:]  # the leg itself
        if first.lane == leg.lane and abs(first.from_m - leg.to_m) < CUT_M:
            return ways  # the next stretch of its lane
        lane = self.yard.lane(leg.lane)
        if leg.to_m >= lane.length_m - CUT_M and self.yard.lane(first.lane).start == lane.end:
            return ways
        return self._misaligned(ways, leg.node, now)

    def _misaligned(self, ways: list[Way], here: str, now: float) -> list[Way]:
        self.problems.misaligned.append(
            f"t={now:.1f}s {self.truck}: told to drive {ways[0].lane}, the truck is at {here}"
        )
        return []

    def _profile(self, now: float, s: float, v: float, stop: float) -> None:
        stretches: list[tuple[float, float]] = []
        for leg in self.legs:
            if leg.s_out > s + TOL:
                stretches.append((min(leg.s_out, stop), leg.limit))
                if leg.s_out >= stop - TOL:
                    break
        self.profile = profile(
            now, s, v, stretches, self.vehicle.accel_mps2, self.vehicle.brake_mps2
        )
        if self.profile.hard_brake_mps2 > self.vehicle.max_brake_mps2:
            self.problems.hard_brakes.append(
                f"t={now:.1f}s {self.truck}: braked at {self.profile.hard_brake_mps2:.1f} m/s²"
            )
        self._trim(s)

    def _trim(self, s: float) -> None:
        cut = 0
        while cut < len(self.legs) - 1 and self.legs[cut].s_out < s - HISTORY_M:
            cut += 1
        if cut:
            self.start = self.legs[cut - 1].node
            del self.legs[:cut]

    # -- what comes next ---------------------------------------------------------------

    def next_moment(self, now: float) -> float:
        """When the truck's situation next changes: its front at a node, its rear plus
        the gap clear of one, braking for the end of its way, standing (inf: none)."""
        prof = self.profile
        if prof.t_end <= now + TOL:
            return math.inf
        s = prof.s(now)
        out = prof.t_end
        fp = self.vehicle.footprint_m + REAR_PAST_M
        for leg in self.legs:
            for mark in (leg.s_out, leg.s_out + fp):
                if s + TOL < mark <= prof.s_end + TOL:
                    out = min(out, prof.t_at(mark))
        if self.every_m:
            mark = (math.floor(s / self.every_m + TOL) + 1) * self.every_m
            if mark <= prof.s_end + TOL:
                out = min(out, prof.t_at(mark))
        brake = self.braking_from()
        if brake > now + TOL:
            out = min(out, brake)
        return out

    def braking_from(self) -> float:
        """When the final braking to the stand begins."""
        segments = self.profile.segments
        k = len(segments)
        while k > 0 and segments[k - 1].a < 0:
            k -= 1
        return segments[k].t0 if k < len(segments) else self.profile.t_end

    # -- the record --------------------------------------------------------------------

    def executed(self, until: float) -> Plan:
        """What the truck drove up to `until`, as a plan for routing's checkers."""
        self._commit(until)
        return Plan.of(self.truck, self.trace)

    def _commit(self, now: float) -> None:
        """Record what the front drove from the last record to `now`."""
        if now <= self.committed:
            return
        trace = self.trace
        points = list(self.profile.pieces(self.committed, now, PIECE_S))
        for (ta, sa), (tb, sb) in itertools.pairwise(points):
            if tb <= ta:
                continue
            if sb - sa <= 1e-9:
                trace[-1] = replace(trace[-1], t_exit=tb)
                continue
            self._record(ta, sa, tb, sb)
        self.committed = now

    def _record(self, ta: float, sa: float, tb: float, sb: float) -> None:
        """One driven piece, split where it crosses from lane to lane (a node between)."""
        prof, trace = self.profile, self.trace
        for leg in self.legs:
            if leg.s_out <= sa + TOL or leg.s_in >= sb - TOL:
                continue
            a, b = max(sa, leg.s_in), min(sb, leg.s_out)
            t0 = ta if a <= sa + TOL else prof.t_at(a)
            t1 = tb if b >= sb - TOL else prof.t_at(b)
            t1 = max(t0, t1)
            last = trace[-1]
            if last.kind is ResourceKind.NODE and last.t_exit < t0:
                trace[-1] = replace(last, t_exit=t0)
            speed = min((b - a) / max(t1 - t0, 1e-9), leg.limit)
            trace.append(
                Step(
                    leg.lane,
                    ResourceKind.LANE,
                    t0,
                    t1,
                    speed,
                    leg.from_m + a - leg.s_in,
                    leg.from_m + b - leg.s_in,
                )
            )
            if b >= leg.s_out - TOL and leg.node in self.yard.nodes:
                trace.append(Step(leg.node, ResourceKind.NODE, t1, t1))
