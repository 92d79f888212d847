"""Simulated trucks driving their plans: released through routing's action dependency
graph, with acceleration and braking, and traced as they actually drove.

Each truck's plan becomes a run of passages (nodes and lane cells) in routing's
`Execution`. A truck may *enter* a passage only when it has been granted it: the trucks
planned there before it have released it (their rear plus the safety gap is clear),
nobody else is in it, and it is no earlier than its plan says (a truck is never early,
so the dispatcher's picture — plans plus how late each truck is — stays true, and plans
made later cannot be ordered against a truck already there). Grants reach one lane cell
ahead of the front (through the node between, never a node alone: a truck does not
pull into a junction it may not leave); a cell is longer than a truck's braking
distance, so a truck always drives a profile that can stop at the end of what it has
been granted, and rolls on without braking when the next grant comes in time.

Speed follows `sim.kinematics`: lane limits (the plan's speeds, laden or empty),
speeding up and braking at the vehicle's rates. Late trucks delay the trucks planned
after them, never collide, and — since a conflict-free plan orders every resource
consistently with time — never wait on each other in a circle.

A new plan for a truck on the move (`follow`) starts where the truck can still stop;
the truck keeps its way up to there and takes the rest under the new plan's order and
times. A truck that breaks down (`halt`) brakes to a stand and gives up its way beyond;
only `repaired` lets it drive again.

What each truck drove is recorded as plan steps (lane stretches at most a second of
acceleration long), so routing's independent checker verifies the shift as driven.
The world hears of departures, stops and arrivals through `DriveEvents` (where the
front is, last node and metres since, it asks when it reports),
always after the drive has settled (through the clock, never from inside a step).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol

from maps import Yard
from routing.cells import CellGraph, group_checks, group_key
from routing.execution import EPS as RELEASE_EPS
from routing.execution import Execution, TruckRun, passages_of, standing_at
from routing.plan import Plan, ResourceKind, Step
from routing.vehicle import VehicleClass
from sim.kinematics import Profile, earliest, profile
from sim.wheels import lane_into

TOL = 1e-6
Schedule = Callable[[float, Callable[[], None]], None]


RECHECK_S = 5.0
"""A truck held up looks again at least this often."""


class DriveEvents(Protocol):
    """What the world hears from its trucks' wheels."""

    def departed(self, truck: str) -> None:
        """The truck moved off from a stand."""

    def stopped(self, truck: str) -> None:
        """The truck came to a stand short of its goal (waiting, or halted)."""

    def arrived(self, truck: str) -> None:
        """The truck stands at its plan's goal."""


@dataclass
class Mover:
    """One truck's wheels: where its front is on its run and how it moves from now on."""

    truck: str
    steps: list[Step]
    """The plan step of each passage of its run (same indexes)."""
    front: int
    profile: Profile
    version: int = 0
    halted: bool = False
    standing: bool = True
    plan_start: int = 0
    """Index of the passage its current plan starts from (before it: older plans' way)."""
    nodes: list[tuple[str, float]] = field(default_factory=list)
    """Nodes its front has entered, and where along its way (the last: its last node)."""
    odo_origin: float = 0.0
    committed: float = 0.0
    trace: list[Step] = field(default_factory=list)
    """What it drove; the last step grows while it stands."""
    waiting_on: set[str] = field(default_factory=set)
    held_since: float | None = None
    """Standing on its way, held up by others or by its plan, since."""
    built_for: tuple[int, bool] = (-1, False)
    """The grant end and halt its profile was made for (the same again: it still holds)."""


@dataclass
class DriveProblems:
    """Things that should not happen; the tests assert none did."""

    misaligned: list[str] = field(default_factory=list)
    """New plans that did not start where the truck was."""
    hard_brakes: list[str] = field(default_factory=list)
    """Stops harder than the vehicle's service braking (a plan changed under the truck)."""


class Drive:
    """Every simulated truck's motion through the action dependency graph."""

    def __init__(
        self,
        yard: Yard,
        cells: CellGraph,
        vehicle: VehicleClass,
        schedule: Schedule,
        events: DriveEvents,
    ) -> None:
        self.yard = yard
        self.cells = cells
        self.vehicle = vehicle
        self.schedule = schedule
        self.events = events
        self.execution = Execution(vehicle.footprint_m)
        self.movers: dict[str, Mover] = {}
        self.groups = {lane.id: group_key(lane, yard) for lane in yard.lanes.values()}
        self.checks = {lane.id: group_checks(lane, yard) for lane in yard.lanes.values()}
        self.top_speed = max(vehicle.empty_speed_mps, vehicle.laden_speed_mps)
        self.problems = DriveProblems()
        self._waiters: dict[str, set[str]] = {}
        """Per truck, the trucks waiting on it."""
        self.held_up_s = 0.0
        """Seconds trucks stood on their way (not broken down), waiting for a grant."""

    # -- placing and following -----------------------------------------------------------

    def place(self, truck: str, node: str, t: float) -> None:
        """The truck stands at `node` from t (its body in the cell behind a service point)."""
        passages = standing_at(node, t, self.cells, self.yard, self.groups, self.checks)
        steps = [Step(node, ResourceKind.NODE, t, math.inf)]
        if len(passages) > 1:  # its body in the cell behind the service point
            body = self.cells.entry_cell(node)
            assert body is not None
            a, b = self.cells.from_m[body], self.cells.to_m[body]
            steps.insert(0, Step(self.cells.name[body], ResourceKind.LANE, t, t, 1.0, a, b))
        run = TruckRun(truck, passages, len(self.movers), at=len(passages) - 1)
        self.execution.add(run)
        m = Mover(truck, steps, len(passages) - 1, Profile.standing(t, 0.0), committed=t)
        m.plan_start = m.front
        m.nodes.append((node, 0.0))
        m.trace.append(Step(node, ResourceKind.NODE, t, t))
        self.movers[truck] = m

    def follow(self, truck: str, plan: Plan, now: float) -> None:
        """From now on the truck drives `plan` (which starts where the dispatcher knows it is)."""
        m = self.movers[truck]
        run = self.execution.runs[truck]
        self._settle(m, now)
        new = passages_of(plan, self.groups, self.checks)
        steps = [s for s in plan.steps if s.kind is not ResourceKind.CONFLICT_GROUP]
        # The plan starts where the truck can still stop: its front's passage, one it has
        # been granted (or is about to be) ahead, or — standing right on a boundary — one
        # that ends where the front is. It keeps its way up to there, no further: beyond,
        # the new plan's order and times hold (it may have to wait sooner than before).
        at_s = m.profile.s(now)
        standing = m.profile.v(now) <= TOL
        behind = [
            k
            for k in range(run.released, m.front)
            if standing and run.passages[k].s_out >= at_s - TOL
        ]
        reach = [*behind, *range(m.front, min(len(run.passages), run.at + 2))]
        j = next((k for k in reach if new and run.passages[k].resource == new[0].resource), None)
        if j is not None:
            shift = run.passages[j].s_in - new[0].s_in
            if j <= run.at:  # already its own: the plan goes on from there
                keep, new, steps = j, new[1:], steps[1:]
                start = keep
            else:
                keep = start = j - 1
            if keep < m.front:
                self._step_back(m, keep)
        else:
            here = run.passages[m.front]
            self.problems.misaligned.append(
                f"t={now:.1f}s {truck}: new plan starts at {new[0].resource if new else '-'}, "
                f"the truck is in {here.resource}"
            )
            shift = here.s_out - (new[0].s_in if new else 0.0)
            keep = start = m.front
        moved = [p.shifted(shift) for p in new]
        released = run.released
        self.execution.replace(truck, keep, moved)
        m.steps = m.steps[released : keep + 1] + steps
        m.front -= released
        m.plan_start = start - released
        m.built_for = (-1, False)
        self._wake_waiters(truck, now)
        self._drive(m, now)

    def repaired(self, truck: str, now: float) -> None:
        """A halted truck may drive again (its next plan takes it on)."""
        m = self.movers[truck]
        m.halted = False
        m.built_for = (-1, False)
        self._drive(m, now)

    def _step_back(self, m: Mover, keep: int) -> None:
        """The front, standing on a boundary, is back in passage `keep` (its end): the nodes
        it was taken into at this very point are left again, in the trace too."""
        for k in range(m.front, keep, -1):
            node = m.steps[k]
            last = m.trace[-1]
            if (
                node.kind is ResourceKind.NODE
                and last.kind is ResourceKind.NODE
                and last.resource == node.resource
                and len(m.trace) > 1
            ):
                m.trace.pop()
                m.trace[-1] = replace(m.trace[-1], t_exit=last.t_exit)
                m.nodes.pop()
        m.front = keep

    def halt(self, truck: str, now: float) -> float:
        """The truck brakes to a stand (it broke down); when it stands."""
        m = self.movers[truck]
        self._settle(m, now)
        m.halted = True
        m.held_since = None
        # It gives up its way beyond where it will stand: the dispatcher stands it there
        # and routes the others around it, and it gets a new plan when repaired.
        run = self.execution.runs[truck]
        v = m.profile.v(now)
        stop = m.profile.s(now) + self.vehicle.stopping_m(v)
        keep = m.front
        while keep < run.at and run.passages[keep + 1].s_in < stop - TOL:
            keep += 1
        # Standing right on a boundary, it is still in what ends there (as the planner
        # has it): not in the node or the cell it reached at that very point.
        while keep > max(run.released, m.plan_start) and run.passages[keep].s_in >= stop - TOL:
            keep -= 1
        if keep < m.front:
            self._step_back(m, keep)
        released = run.released
        self.execution.replace(truck, keep, [])
        m.steps = m.steps[released : keep + 1]
        m.front -= released
        m.plan_start = max(0, m.plan_start - released)
        m.built_for = (-1, False)
        self._wake_waiters(truck, now)
        self._drive(m, now)
        return m.profile.t_end

    # -- where trucks are ----------------------------------------------------------------

    def odometer(self, truck: str, t: float) -> float:
        """Metres the truck has driven by t."""
        m = self.movers[truck]
        return m.profile.s(t) - m.odo_origin

    def moving(self, truck: str, t: float) -> bool:
        """Whether the truck is (still) rolling at t."""
        return self.movers[truck].profile.t_end > t + TOL

    def en_route(self, truck: str) -> bool:
        """Whether the truck has passages ahead of its front (it has not reached its goal)."""
        m = self.movers[truck]
        return m.front < len(self.execution.runs[truck].passages) - 1

    def position(self, truck: str, t: float) -> tuple[str, float]:
        """The last node the front passed and the metres driven since (VDA 5050's pair)."""
        m = self.movers[truck]
        node, at = m.nodes[-1]
        return node, max(0.0, m.profile.s(t) - at)

    def pose(self, truck: str, t: float) -> tuple[float, float, float, float]:
        """(x, y, heading in radians from +x, speed m/s) of the front at t."""
        m = self.movers[truck]
        run = self.execution.runs[truck]
        s = m.profile.s(t)
        k = m.front
        while k < run.at and s > run.passages[k].s_out + TOL:
            k += 1
        step, p = m.steps[k], run.passages[k]
        if step.kind is ResourceKind.NODE:
            node = self.yard.node(step.resource)
            return node.x, node.y, 0.0, 0.0
        lane = self.yard.lane(step.resource)
        at = min(lane.length_m, max(0.0, step.from_m + s - p.s_in))
        q = lane.geometry.interpolate(min(lane.length_m, at + 1.0))
        r = lane.geometry.interpolate(max(0.0, at - 1.0))
        here = lane.geometry.interpolate(at)
        return here.x, here.y, math.atan2(q.y - r.y, q.x - r.x), m.profile.v(t)

    def antenna(self, truck: str, t: float, antenna_m: float) -> tuple[float, float, float, float]:
        """(x, y, heading in compass degrees, speed m/s) at t of the point `antenna_m`
        behind the front (the GNSS antenna), heading the way the truck drove there.

        It lies back along the way the front drove — around curves and across nodes into
        the lanes before, not in a straight line; where the truck has not driven that far
        yet, back along the lane it stood on (the siding behind its spot) or came in by.
        """
        m = self.movers[truck]
        run = self.execution.runs[truck]
        s = m.profile.s(t)
        k = m.front
        while k < run.at and s > run.passages[k].s_out + TOL:
            k += 1
        back = s - antenna_m
        lane_id: str | None = None
        at = 0.0
        for i in range(k, -1, -1):  # the lane passage the antenna is in (or the first)
            step, p = m.steps[i], run.passages[i]
            if step.kind is ResourceKind.LANE:
                lane_id, at = step.resource, step.from_m + back - p.s_in
                if back >= p.s_in - TOL:
                    break
        if lane_id is None:  # it stood at a node and has driven no lane: one into it
            node = m.steps[0].resource
            lane_id, at = lane_into(self.yard, node, None), antenna_m - (s - run.passages[0].s_in)
            if lane_id is None:
                n = self.yard.node(node)
                return n.x, n.y, 0.0, 0.0
            at = self.yard.lane(lane_id).length_m - at
        lane = self.yard.lane(lane_id)
        for _ in range(len(self.yard.lanes)):  # further back than its way goes: lanes in
            if at >= 0.0:
                break
            before = lane_into(self.yard, lane.start, lane)
            if before is None:
                at = 0.0
                break
            lane = self.yard.lane(before)
            at += lane.length_m
        at = min(lane.length_m, max(0.0, at))
        q = lane.geometry.interpolate(min(lane.length_m, at + 1.0))
        r = lane.geometry.interpolate(max(0.0, at - 1.0))
        here = lane.geometry.interpolate(at)
        heading = math.degrees(math.atan2(q.x - r.x, q.y - r.y)) % 360.0
        return here.x, here.y, heading, m.profile.v(t)

    def waiting(self, now: float) -> list[str]:
        """Trucks standing at `now`, held up by others for a passage they need."""
        return [t for t, m in self.movers.items() if m.waiting_on and m.profile.t_end <= now + TOL]

    def deadlocks(self, now: float) -> list[list[str]]:
        """Circles of standing trucks waiting on each other (never, if the graph is sound:
        a truck still rolling will clear what it holds)."""
        return self.execution.deadlocks(self.waiting(now))

    def executed(self, until: float) -> list[Plan]:
        """What every truck drove up to `until`, as plans for routing's checker."""
        out = []
        for m in self.movers.values():
            self._commit(m, until)
            out.append(Plan.of(m.truck, m.trace))
        return out

    # -- the wheels ----------------------------------------------------------------------

    def _settle(self, m: Mover, now: float) -> None:
        """Bring the truck's bookkeeping to `now` (front, releases, trace) before a change."""
        self._commit(m, now)
        self._advance(m, now)

    def _tick(self, truck: str, version: int, now: float) -> None:
        m = self.movers[truck]
        if m.version == version:
            self._drive(m, now)

    def _wake(self, m: Mover, t: float) -> None:
        self.schedule(t, partial(self._tick, m.truck, m.version, t))

    def _wait(self, m: Mover, on: set[str]) -> None:
        """The truck now waits on `on` (empty: on nobody); who waits on whom is indexed."""
        for other in m.waiting_on - on:
            self._waiters[other].discard(m.truck)
        for other in on - m.waiting_on:
            self._waiters.setdefault(other, set()).add(m.truck)
        m.waiting_on = on

    def _wake_waiters(self, truck: str, now: float) -> None:
        for other in list(self._waiters.get(truck, ())):
            o = self.movers[other]
            self._wait(o, set())
            o.version += 1
            self._wake(o, now)

    def _drive(self, m: Mover, now: float) -> None:
        """Everything that happens to one truck at `now`, and when to look again."""
        m.version += 1
        self._commit(m, now)
        arrived = self._advance(m, now)
        run = self.execution.runs[m.truck]
        s, v = m.profile.s(now), m.profile.v(now)
        while not m.halted:  # grant, and again while the front moves on into what it got
            front = m.front
            self._grant(m, run, now, s)
            arrived = self._advance(m, now, release=False) or arrived  # same place: no release
            if m.front == front:
                break
        if m.built_for != (run.at, m.halted):
            m.profile = self._profile(m, run, now, s, v)
            m.built_for = (run.at, m.halted)
            if m.profile.hard_brake_mps2 > self.vehicle.max_brake_mps2:
                self.problems.hard_brakes.append(
                    f"t={now:.1f}s {m.truck}: braked at {m.profile.hard_brake_mps2:.1f} m/s²"
                )
        rolling = m.profile.t_end > now + TOL
        if m.standing and rolling:
            m.standing = False
            if m.held_since is not None:
                self.held_up_s += now - m.held_since
                m.held_since = None
            self._tell(partial(self.events.departed, m.truck), now)
        if arrived:
            m.standing = True
            self._tell(partial(self.events.arrived, m.truck), now)
        elif not rolling and not m.standing:
            m.standing = True
            if not m.halted:
                m.held_since = now
            self._tell(partial(self.events.stopped, m.truck), now)
        nxt = self._next_look(m, run, now)
        if not math.isfinite(nxt) and m.standing and not m.halted and not run.finished:
            nxt = now + RECHECK_S  # held up: it looks again (a heartbeat, not a release)
        if math.isfinite(nxt):
            self._wake(m, nxt)

    def _tell(self, what: Callable[[], None], now: float) -> None:
        self.schedule(now, what)

    def _advance(self, m: Mover, now: float, release: bool = True) -> bool:
        """Move the front into granted passages it has reached; release what the rear
        plus the gap has cleared. Whether it reached its goal."""
        run = self.execution.runs[m.truck]
        s = m.profile.s(now)
        arrived = False
        while m.front < run.at and s >= run.passages[m.front].s_out - TOL:
            m.front += 1
            step = m.steps[m.front]
            if step.kind is ResourceKind.NODE:
                m.trace.append(Step(step.resource, ResourceKind.NODE, now, now))
                m.nodes.append((step.resource, run.passages[m.front].s_in))
                arrived = m.front == len(run.passages) - 1
        if release:
            before = run.released
            self.execution.drove_to(m.truck, s, lambda x: min(now, m.profile.t_at(x)))
            if run.released > before:
                self._wake_waiters(m.truck, now)
        return arrived

    def _grant(self, m: Mover, run: TruckRun, now: float, s: float) -> None:
        """Take passages up to the next lane cell beyond the front, as far as allowed."""
        target = next(
            (
                i
                for i in range(m.front + 1, len(run.passages))
                if m.steps[i].kind is ResourceKind.LANE
            ),
            len(run.passages) - 1,
        )
        before = m.waiting_on
        waiting: set[str] = set()
        limit = -1.0
        while run.at < target:
            p = run.passages[run.at + 1]
            if p.planned_in > now + TOL:
                if limit < 0:
                    steps = m.steps[m.front : run.at + 1]
                    limit = max((st.speed_mps or 0.0 for st in steps), default=0.0)
                    limit = limit or self.top_speed
                lead = earliest(p.s_in - s, m.profile.v(now), limit, self.vehicle.accel_mps2)
                if now + lead < p.planned_in - TOL:
                    self._wake(m, p.planned_in - lead)  # not before its plan says
                    break
            blockers = self.execution.blockers(m.truck)
            if blockers:
                waiting = {other for other, _ in blockers}
                for other in waiting - before:  # they release what they have cleared
                    o = self.movers[other]
                    o.version += 1
                    self._wake(o, now)
                break
            self.execution.enter_next(m.truck)
        self._wait(m, waiting)
        # Never hold a junction without the cell beyond it.
        keep = run.at
        while keep > m.front and m.steps[keep].kind is ResourceKind.NODE and keep < target:
            keep -= 1
        if keep < run.at:
            self.execution.give_back(m.truck, keep)

    def _profile(self, m: Mover, run: TruckRun, now: float, s: float, v: float) -> Profile:
        """The fastest motion that can stand at the end of what is granted (or, halted, at
        once)."""
        stretches: list[tuple[float, float]] = []
        for i in range(m.front, run.at + 1):
            p, step = run.passages[i], m.steps[i]
            if step.kind is ResourceKind.LANE and p.s_out > s + TOL:
                stretches.append((p.s_out, step.speed_mps or self.top_speed))
        if m.halted:  # it stops as soon as it can
            stop = s + self.vehicle.stopping_m(v)
            cut: list[tuple[float, float]] = []
            for end, limit in stretches:
                cut.append((min(end, stop), limit))
                if end >= stop - TOL:
                    break
            stretches = cut
        return profile(now, s, v, stretches, self.vehicle.accel_mps2, self.vehicle.brake_mps2)

    def _next_look(self, m: Mover, run: TruckRun, now: float) -> float:
        """The next moment something happens to this truck: its front reaches the end of
        its passage, its rear clears one, or it comes to a stand."""
        prof = m.profile
        out = math.inf
        if prof.t_end > now + TOL:
            out = prof.t_end
        if m.front < run.at:
            out = min(out, prof.t_at(run.passages[m.front].s_out))
        if self._waiters.get(m.truck):
            # Someone waits for it: it releases each passage the moment its rear plus the
            # gap clears it (nobody waiting, releases can wait for its next look).
            fp = self.vehicle.footprint_m
            for p in run.passages[run.released : m.front + 1]:
                clear = p.s_out + fp
                if clear <= prof.s_end + RELEASE_EPS:  # the graph's own tolerance
                    out = min(out, prof.t_at(clear))
        return max(out, now)

    def _commit(self, m: Mover, now: float) -> None:
        """Record what the front drove from the last record to `now`."""
        if now <= m.committed:
            return
        run = self.execution.runs[m.truck]
        trace = m.trace
        points = list(m.profile.pieces(m.committed, now))
        for (ta, sa), (tb, sb) in itertools.pairwise(points):
            if tb <= ta:
                continue
            if sb - sa <= 1e-9:  # standing: the last step lasts longer
                trace[-1] = replace(trace[-1], t_exit=tb)
                continue
            k = m.front
            while k < run.at and sa >= run.passages[k].s_out - TOL:
                k += 1
            step, p = m.steps[k], run.passages[k]
            if step.kind is not ResourceKind.LANE:
                trace[-1] = replace(trace[-1], t_exit=tb)
                continue
            a = step.from_m + (sa - p.s_in)
            b = step.from_m + (sb - p.s_in)
            speed = min((sb - sa) / (tb - ta), step.speed_mps or math.inf)
            trace.append(Step(step.resource, ResourceKind.LANE, ta, tb, speed, a, b))
        m.committed = now
