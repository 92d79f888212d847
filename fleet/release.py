"""Releasing the way: how far each truck's order may take it, extended as it drives.

The dispatcher's scheduler seam, with `fleet.scheduler` (which message a plan needs).
Every truck's plan is a run of passages (nodes and lane cells) in routing's `Execution`,
the action dependency graph the simulator's wheels are gated by; here the dispatcher
grants them on what the trucks *report*. An order's base (its released nodes and edges,
VDA 5050 §6.6) reaches exactly as far as the truck has been granted, and the rest of its
plan goes as horizon (`released: false`):

- A grant needs what `Execution.blockers` says: nobody else in the passage, whoever was
  planned there before gone (rear plus gap clear), a junction only when the truck can
  leave it whole. A passage is not granted before its plan says the truck could be
  there (a truck is never early, so plans made later are never ordered against it).
- The base ends at a node of the order where a truck may stand: its body (a footprint
  behind the node) clear of every junction, or a service point, or the goal. Grants
  that would end inside a junction are given back; the base never ends in one. While a
  junction is taken, the base reaches its stop line: the truck drives up and waits there.
- While the way is free it reaches at least `ahead_m` past the truck's front (its
  stopping distance plus its speed × (state interval + round trip)), so a truck on a
  free road never brakes for want of an extension.
- As states come in (`lastNodeId`, `lastNodeSequenceId`, `distanceSinceLastNode`) the
  truck's rear frees what it has cleared, and trucks waiting for it are granted again.

Messages follow the update rules: an extension is an order update with the same
`orderId`, `orderUpdateId` + 1, starting at the previous base's last node with its
sequenceId, sequenceIds continuing. A re-plan that keeps the base (its route passes the
decision point the way the base goes) is such an update too; one that changes the base
is `cancelOrder` and a new order, whose first node is the last node the truck passed
with a deviation range wide enough to take in where it stands (§6.6.3.1).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from fleet.protocol import Action, InstantActions, Order, make_action, make_instant_actions
from fleet.protocol.builders import Waypoint, make_order
from maps import Yard
from routing.cells import CellGraph, group_checks, group_key
from routing.execution import EPS, Execution, TruckRun, passages_of, standing_at
from routing.plan import Plan, ResourceKind
from routing.vehicle import VehicleClass

__all__ = ["Release", "Route", "cut_node", "node_xy", "parse_cut", "route_of"]

CUT = "@"
"""Between a lane and the metres along it in a cell boundary's node id."""
CUT_EPS_M = 0.01
NODE_REACH_M = 5.0
"""A new order's first node counts as reached within this (or where the truck stands)."""


@dataclass(frozen=True, slots=True)
class Route:
    """The nodes of a plan in order, each with the passage index where the front reaches it."""

    waypoints: list[Waypoint]
    passage: list[int]


def route_of(plan: Plan, yard: Yard) -> Route:
    """The plan's nodes in order, each with the lane that leads to it (repeats collapsed).

    Where a lane is cut into cells (the long ones), each cell boundary is a node of the
    route too (`<lane>@<metres>`, with its position): a base may end there, right behind
    the truck ahead, as the plan has the truck wait."""
    points: list[Waypoint] = []
    where: list[int] = []
    lane: str | None = None
    speed: float | None = None
    steps = [st for st in plan.steps if st.kind is not ResourceKind.CONFLICT_GROUP]
    for k, step in enumerate(steps):
        if step.kind is ResourceKind.LANE:
            lane, speed = step.resource, step.speed_mps
            nxt = steps[k + 1] if k + 1 < len(steps) else None
            if (
                step.to_m is not None
                and nxt is not None
                and nxt.kind is ResourceKind.LANE
                and nxt.resource == step.resource
                and abs(nxt.from_m - step.to_m) < CUT_EPS_M
            ):
                x, y = yard.lane(step.resource).geometry.interpolate(step.to_m).coords[0]
                points.append(Waypoint(cut_node(step.resource, step.to_m), x, y, lane, (), speed))
                where.append(k)
            continue
        if points and points[-1].node_id == step.resource and lane is None:
            continue
        node = yard.node(step.resource)
        points.append(Waypoint(step.resource, node.x, node.y, lane, (), speed))
        where.append(k)
        lane = None
    return Route(points, where)


def _cut_after(run: TruckRun, k: int) -> bool:
    """Whether lane cell k is followed by another cell of the same lane (a cut node)."""
    if k + 1 >= len(run.passages):
        return False
    here, nxt = run.passages[k].resource, run.passages[k + 1].resource
    return here.startswith("lane:") and nxt.startswith(here.rpartition("@")[0] + "@")


def parse_cut(node: str) -> tuple[str, float] | None:
    """(lane, metres along it) of a cell boundary's node id; None for a yard node."""
    lane, cut, at = node.rpartition(CUT)
    if not cut:
        return None
    try:
        return lane, float(at)
    except ValueError:
        return None


def node_xy(yard: Yard, node: str) -> tuple[float, float]:
    """Where a route node is: a yard node, or a cell boundary on its lane."""
    cut = parse_cut(node)
    if cut is None:
        n = yard.node(node)
        return n.x, n.y
    x, y = yard.lane(cut[0]).geometry.interpolate(cut[1]).coords[0]
    return float(x), float(y)


def cut_node(lane: str, at_m: float) -> str:
    """The node id of a cell boundary: the lane and the metres along it."""
    return f"{lane}{CUT}{at_m:.2f}"


@dataclass
class Ledger:
    """One truck's order as sent: its route, where each node is on the run, what is base."""

    order_id: str
    update: int
    route: Route
    first_seq: int
    """sequenceId of route node 0."""
    released: int
    """How many route nodes are in the base."""
    actions: tuple[Action, ...] = ()

    def seq(self, i: int) -> int:
        return self.first_seq + 2 * i

    @property
    def base_end(self) -> int:
        """Passage index of the base's last node."""
        return self.route.passage[self.released - 1]

    @property
    def complete(self) -> bool:
        return self.released >= len(self.route.waypoints)


@dataclass
class Release:
    """Grants, bases and the order messages that carry them, for every truck."""

    yard: Yard
    cells: CellGraph
    vehicle: VehicleClass
    manufacturer: str
    clock: Callable[[float], datetime]
    ahead_s: float = 1.5
    """State interval plus round trip [s]: how long an extension takes to reach a truck."""
    execution: Execution = field(init=False)
    ledgers: dict[str, Ledger] = field(default_factory=dict)
    paused: set[str] = field(default_factory=set)
    """Trucks told to stand (`startPause`): not granted more until they may go on."""
    waiting: dict[str, set[str]] = field(default_factory=dict)
    """Per truck, the trucks whose grant waits on it."""
    _header: int = 0
    _priority: itertools.count[int] = field(default_factory=itertools.count)
    _groups: dict[str, str | None] = field(init=False)
    _checks: Mapping[str, tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.execution = Execution(self.vehicle.footprint_m)
        self.execution.stops = frozenset(
            f"node:{sp.node}" for sp in self.yard.service_points.values()
        )
        self._groups = {lane.id: group_key(lane, self.yard) for lane in self.yard.lanes.values()}
        self._checks = {lane.id: group_checks(lane, self.yard) for lane in self.yard.lanes.values()}
        top = max(self.vehicle.empty_speed_mps, self.vehicle.laden_speed_mps)
        self.top_speed = top
        self.ahead_m = self.vehicle.stopping_m(top) + top * self.ahead_s

    # -- where trucks are ------------------------------------------------------------

    def place(self, truck: str, node: str, now: float) -> None:
        """The truck stands at `node` (its body in the cell behind a service point)."""
        passages = standing_at(node, now, self.cells, self.yard, self._groups, self._checks)
        run = TruckRun(truck, passages, next(self._priority), at=len(passages) - 1)
        run.s = 0.0
        self.execution.add(run)

    def knows(self, truck: str) -> bool:
        return truck in self.execution.runs

    def reported(
        self, truck: str, node: str, sequence_id: int | None, metres: float, now: float
    ) -> bool:
        """The truck says its front passed `node` (sequenceId) and is `metres` on; its rear
        frees what it has cleared. Whether anything was freed."""
        run = self.execution.runs.get(truck)
        if run is None or not node:
            return False
        ledger = self.ledgers.get(truck)
        k = None
        if ledger is not None and sequence_id:
            i = (sequence_id - ledger.first_seq) // 2
            if 0 <= i < len(ledger.route.waypoints) and ledger.route.waypoints[i].node_id == node:
                k = ledger.route.passage[i]
        if k is None or k < 0:
            resource = f"node:{node}"
            ahead = [
                j for j in range(run.released, run.at + 1) if run.passages[j].resource == resource
            ]
            if not ahead:
                return False
            k = ahead[0]
        # Never further than granted: a truck does not pass the end of its base.
        s = min(run.passages[k].s_out + max(0.0, metres), run.passages[run.at].s_out)
        if s < run.s - EPS and k <= run.at:
            return False  # an older report
        before = run.released
        self.execution.drove_to(truck, s, lambda _x: now)
        return run.released > before

    # -- plans -----------------------------------------------------------------------

    def follow(self, truck: str, plan: Plan) -> int:
        """From now on the truck's way is `plan` (starting where the dispatcher knows it
        is): it keeps what it holds up to there, the rest is given back. Returns the run
        index of the plan's first passage (its passage p is then run index + p)."""
        new = passages_of(plan, self._groups, self._checks)
        run = self.execution.runs.get(truck)
        if run is None:
            self.execution.add(TruckRun(truck, new, next(self._priority)))
            return 0
        last = min(len(run.passages), run.at + 2)
        j = next(
            (
                k
                for k in range(run.released, last)
                if new and run.passages[k].resource == new[0].resource
            ),
            None,
        )
        if j is not None:  # it goes on from its own passage j
            shift = run.passages[j].s_in - new[0].s_in
            keep, new, first = j, new[1:], j
        else:  # not where it was thought: it keeps its front's passage, the plan follows
            keep = min(run.at, self._front(run))
            shift = run.passages[keep].s_out - (new[0].s_in if new else 0.0)
            first = keep + 1
        moved = [p.shifted(shift) for p in new]
        released = run.released
        self.execution.replace(truck, keep, moved)
        ledger = self.ledgers.get(truck)
        if ledger is not None:
            ledger.route = Route(
                ledger.route.waypoints, [p - released for p in ledger.route.passage]
            )
        return first - released

    @staticmethod
    def _front(run: TruckRun) -> int:
        k = run.released
        while k < run.at and run.passages[k].s_out <= run.s + EPS:
            k += 1
        return k

    # -- grants ----------------------------------------------------------------------

    def _standable(self, run: TruckRun, k: int) -> bool:
        """Whether the front may stand at passage k (a node, or a lane cell's end where a
        cut node is): its body clear of junctions."""
        p = run.passages[k]
        if p.resource.startswith("node:"):
            if k == len(run.passages) - 1 or p.resource in self.execution.stops:
                return True
            j = k - 1
        elif p.group is None and _cut_after(run, k):
            j = k  # a lane cell with another of its lane after: the boundary's node
        else:
            return False
        reach = p.s_out - self.vehicle.footprint_m
        while j >= 0 and run.passages[j].s_out > reach + EPS:
            if run.passages[j].group is not None:
                return False
            j -= 1
        return True

    def _stop_line(self, run: TruckRun, k: int) -> bool:
        """Whether passage k is a node where a junction begins (its stop line), where the
        truck may stand (the plan has it wait before the junction: it may wait there)."""
        p = run.passages[k]
        if not p.resource.startswith("node:") or k + 1 >= len(run.passages):
            return False
        after = run.passages[k + 1].group
        return after is not None and after != p.group and self._standable(run, k)

    def _take_way(self, truck: str, run: TruckRun, floor: int, now: float) -> set[str]:
        """Enter passages while allowed, up to `ahead_m` past the front (and a standable
        node); the trucks it waits on, if blocked."""
        target = run.s + self.ahead_m
        while not run.finished:
            nxt = run.passages[run.at + 1]
            if nxt.s_in >= target - EPS and run.at >= floor and self._standable(run, run.at):
                break
            early = nxt.planned_in > now + max(0.0, nxt.s_in - run.s) / self.top_speed + EPS
            if early and not self._stop_line(run, run.at + 1):
                break  # never early (but it may drive up to a stop line and wait there)
            why = self.execution.blockers(truck, stop_line_alone=True)
            if why:
                return {o for o, _ in why if o != truck and o in self.execution.runs}
            self.execution.enter_next(truck)
            if early:
                break
        return set()

    def _hold_base(self, truck: str, run: TruckRun, end: int) -> None:
        """Take back, on the new plan, the passages up to `end` that the truck's base had
        given it, where nobody is now planned there before it (a re-plan that keeps the
        base): it may be ahead of its new plan there, it was granted them."""
        while run.at < end and not run.finished:
            if self.execution.blockers(truck, stop_line_alone=True):
                return
            self.execution.enter_next(truck)

    def grant(self, truck: str, now: float) -> bool:
        """Grant the truck what it may have now; whether its base end moved."""
        run = self.execution.runs.get(truck)
        ledger = self.ledgers.get(truck)
        if run is None or ledger is None or truck in self.paused:
            return False
        floor = max(ledger.base_end, run.released)
        blocked = self._take_way(truck, run, floor, now)
        keep = run.at
        while keep > floor and not self._standable(run, keep):
            keep -= 1
        if keep < run.at:
            self.execution.give_back(truck, keep)
        for other in blocked:
            self.waiting.setdefault(other, set()).add(truck)
        released = sum(1 for p in ledger.route.passage if p <= keep)
        if released > ledger.released:
            ledger.released = released
            return True
        return False

    def decision_point(self, truck: str, closed: set[str]) -> str | None:
        """The base's last node while the truck has yet to reach it (it will drive there
        whatever happens): where a re-plan may take over. None when the base reaches the
        goal, is done, or crosses a closed lane (then only a cancel keeps it out)."""
        ledger = self.ledgers.get(truck)
        run = self.execution.runs.get(truck)
        if ledger is None or run is None or ledger.complete:
            return None
        end = ledger.released - 1
        front = self._front(run)
        if ledger.route.passage[end] <= front:
            return None
        points = ledger.route.waypoints
        while CUT in points[end].node_id and end + 1 < len(points):
            end += 1  # mid-lane: the truck drives on to the lane's end whatever happens
        if CUT in points[end].node_id:
            return None
        ahead = [
            w.lane_id
            for w, p in zip(ledger.route.waypoints[: end + 1], ledger.route.passage, strict=False)
            if p > front
        ]
        if any(lane in closed for lane in ahead):
            return None
        return ledger.route.waypoints[end].node_id

    def waiting_on(self, truck: str) -> list[str]:
        """Trucks whose grant waited on this one (to be asked again once it freed some)."""
        return sorted(self.waiting.pop(truck, set()))

    def pending(self) -> list[str]:
        """Trucks whose base does not reach their goal yet."""
        return [t for t, ledger in self.ledgers.items() if not ledger.complete]

    def next_due(self, now: float) -> float | None:
        """The earliest time after `now` a truck's next passage stops being early (its
        plan's time less the driving there): grants that wait for the clock are due then."""
        due = None
        runs, paused, top, after = self.execution.runs, self.paused, self.top_speed, now + EPS
        for truck, ledger in self.ledgers.items():  # (the properties inlined: called often)
            if ledger.released >= len(ledger.route.waypoints) or truck in paused:
                continue
            run = runs.get(truck)
            if run is None or run.at >= len(run.passages) - 1:
                continue
            nxt = run.passages[run.at + 1]
            t = nxt.planned_in - max(0.0, nxt.s_in - run.s) / top
            if after < t < math.inf and (due is None or t < due):
                due = t
        return due

    # -- messages --------------------------------------------------------------------

    def _next_header(self) -> int:
        self._header += 1
        return self._header

    def new_order(
        self,
        truck: str,
        plan: Plan,
        offset: int,
        order_id: str,
        now: float,
        actions: list[Action] | None,
        *,
        from_node: tuple[str, float] | None = None,
    ) -> Order | None:
        """A new order for `plan` (followed at run index `offset`), released as far as it
        is granted. `from_node`: (last node passed, metres from it): after a cancel the
        order starts there, with a deviation range that takes in where the truck stands."""
        route = route_of(plan, self.yard)
        if not route.waypoints:
            self.ledgers.pop(truck, None)
            return None
        waypoints = list(route.waypoints)
        passage = [offset + p for p in route.passage]
        reach = None
        if from_node is not None and from_node[0] != waypoints[0].node_id:
            x, y = node_xy(self.yard, from_node[0])
            waypoints.insert(0, Waypoint(from_node[0], x, y))
            passage.insert(0, -1)
            reach = from_node[1] + NODE_REACH_M
        if actions:
            waypoints[-1] = waypoints[-1]._replace(actions=tuple(actions))
        ledger = Ledger(order_id, 0, Route(waypoints, passage), 0, 1, tuple(actions or ()))
        self.ledgers[truck] = ledger
        run = self.execution.runs[truck]
        ledger.released = max(1, sum(1 for p in passage if p <= run.at))
        self.grant(truck, now)
        order = self._order(truck, ledger, 0, now)
        if reach is not None:
            first = order.nodes[0]
            assert first.node_position is not None
            position = msgspec.structs.replace(
                first.node_position, allowed_deviation_x_y=round(reach, 2)
            )
            order.nodes[0] = msgspec.structs.replace(first, node_position=position)
        return order

    def _order(self, truck: str, ledger: Ledger, start: int, now: float) -> Order:
        return make_order(
            self.manufacturer,
            truck,
            ledger.order_id,
            ledger.route.waypoints[start:],
            released=ledger.released - start,
            order_update_id=ledger.update,
            first_sequence_id=ledger.seq(start),
            map_id=self.yard.id,
            header_id=self._next_header(),
            timestamp=self.clock(now),
        )

    def extension(self, truck: str, since: int, now: float) -> Order:
        """The update that carries the base on from its former last node (route index)."""
        ledger = self.ledgers[truck]
        ledger.update += 1
        return self._order(truck, ledger, since, now)

    def replan(
        self, truck: str, plan: Plan, offset: int, now: float, actions: list[Action] | None
    ) -> Order | None:
        """The update for a re-planned truck (followed at run index `offset`) when the new
        plan keeps the base; None when it would change it (cancel, then a new order)."""
        ledger = self.ledgers.get(truck)
        route = route_of(plan, self.yard)
        if ledger is None or not route.waypoints:
            return None
        old = ledger.route.waypoints
        end = ledger.released - 1
        new = [w.node_id for w in route.waypoints]
        # Where the new route starts on the old one: the last place it can, not behind
        # what the truck has passed.
        run = self.execution.runs[truck]
        front = self._front(run)
        starts = [
            m
            for m, w in enumerate(old)
            if w.node_id == new[0] and (ledger.route.passage[m] >= front or m >= end)
        ]
        if not starts:
            return None
        m = starts[0]
        if m <= end and [w.node_id for w in old[m : end + 1]] != new[: end - m + 1]:
            return None  # the base from there on must be the new route's first nodes
        waypoints = [*old[:m], *route.waypoints]
        if not actions:
            waypoints[-1] = waypoints[-1]._replace(actions=())
        else:
            waypoints[-1] = waypoints[-1]._replace(actions=tuple(actions))
        passage = [*ledger.route.passage[:m], *(offset + p for p in route.passage)]
        ledger.route = Route(waypoints, passage)
        ledger.actions = tuple(actions or ())
        ledger.released = max(ledger.released, sum(1 for p in passage if p <= run.at))
        self._hold_base(truck, run, ledger.base_end)
        self.grant(truck, now)
        if run.at < ledger.base_end:
            # The new plan has the truck wait short of what its base gave it (a repaired
            # truck that others now go ahead of): the base on the wire must always be held,
            # so it goes (cancel, then a new order as far as the new plan grants).
            return None
        ledger.update += 1
        return self._order(truck, ledger, end, now)

    def cancel(self, truck: str, now: float, action_id: str) -> InstantActions:
        """`cancelOrder`: the truck stops as soon as it can; its order is gone."""
        self.ledgers.pop(truck, None)
        return self._instant(truck, "cancelOrder", action_id, now)

    def pause(self, truck: str, now: float, action_id: str, *, stand: bool) -> InstantActions:
        """`startPause` (stand where it is) or `stopPause` (go on)."""
        return self._instant(truck, "startPause" if stand else "stopPause", action_id, now)

    def _instant(self, truck: str, kind: str, action_id: str, now: float) -> InstantActions:
        return make_instant_actions(
            self.manufacturer,
            truck,
            [make_action(kind, action_id=action_id)],
            header_id=self._next_header(),
            timestamp=self.clock(now),
        )

    def forget(self, truck: str) -> None:
        """The truck's order is done with."""
        self.ledgers.pop(truck, None)


def stitches(previous: Order, update: Order) -> str | None:
    """Why `update` does not continue `previous` by VDA 5050's rules (None: it does)."""
    if update.order_id != previous.order_id:
        return f"orderId {update.order_id!r} is not {previous.order_id!r}"
    if update.order_update_id != previous.order_update_id + 1:
        return f"orderUpdateId {update.order_update_id} after {previous.order_update_id}"
    last = [n for n in previous.nodes if n.released][-1]
    first = update.nodes[0]
    if (first.node_id, first.sequence_id) != (last.node_id, last.sequence_id):
        return (
            f"starts at {first.node_id!r}/{first.sequence_id}, the base ended at "
            f"{last.node_id!r}/{last.sequence_id}"
        )
    return None
