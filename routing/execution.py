"""Executing plans with real trucks: a temporal plan graph, occupancy, and a wait-for graph.

Plans are timed, trucks are not: one runs late, one breaks down, a manual driver goes
his own way. Execution therefore keeps the plans' *order* and drops their clocks
(Hönig et al. 2019, "action dependency graph"): a truck may enter a resource only after
every truck planned there before it has released it — its rear plus the safety gap
clear. Since a conflict-free plan orders every resource consistently with time, the
dependencies point backwards in planned time and can never close a cycle: a delayed
truck delays the trucks behind it, but nobody collides and nobody deadlocks.

A truck is granted a junction (any conflict group) only when it can leave it whole: the
passages a footprint beyond the group must be free and released by whoever was planned
there before it, so it never stops inside a junction and waits, if it must, at the stop
line (`beyond`). A service point inside a group (a dead-end bay) is a place it may stop.
The trucks it then waits for are planned ahead of it just past the junction; they could
wait for it in turn only if their way came back to its stop line within a footprint,
which no lane graph drawn for trucks does. The rule moves a wait from inside the
junction back to its stop line.

Trucks that do not follow the graph (`manual`) still never drive into an occupied
resource, but may take one out of turn; then trucks can wait on each other in a
circle. `Execution.wait_for()` gives the wait-for graph (an edge from each waiting truck
to each truck it waits for) and `deadlocks()` its cycles, for the resolver.

Plans change while trucks drive (a repair, a new leg): `replace` swaps a truck's way
after what it physically holds, and the planned order is kept per resource, sorted, so
one truck's change costs its own passages, not a rebuild. `sim.drive` drives the
simulator's trucks through it; `routing.rollout` is a small time-stepped model for tests.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import networkx as nx

from maps import Yard
from routing.cells import CellGraph, group_checks, group_key
from routing.plan import Plan, ResourceKind

EPS = 1e-9
MAX_BEYOND = 80
"""Passages looked at past a junction for a place to stand (as the planner's runs)."""


@dataclass(frozen=True, slots=True)
class Passage:
    """One resource on a truck's way: where its front enters (distance along the way) and leaves."""

    resource: str
    s_in: float
    s_out: float
    speed_mps: float
    planned_in: float
    group: str | None = None
    """The key it holds while in it: its connector's own id, or its conflict group."""
    checks: tuple[str, ...] = ()
    """Every key that must be free to enter it (its own and its conflicting connectors')."""

    def group_keys(self) -> tuple[str, ...]:
        """`group:<key>` of every key that must be free to enter it."""
        return tuple(f"group:{k}" for k in (self.checks or ((self.group,) if self.group else ())))

    def shifted(self, ds: float) -> Passage:
        """The same passage `ds` further along the way (a plan joined onto a run)."""
        return replace(self, s_in=self.s_in + ds, s_out=self.s_out + ds)


def standing_at(
    node: str,
    t: float,
    cells: CellGraph,
    yard: Yard,
    groups: Mapping[str, str | None],
    checks: Mapping[str, tuple[str, ...]],
) -> list[Passage]:
    """The passages of a truck standing at `node` from t: the node, and at a service point
    the lane cell behind it, where its body stands (held until it has left)."""
    passages = [Passage(f"node:{node}", 0.0, 0.0, 0.0, t)]
    body = cells.entry_cell(node)
    if body is not None and node in yard.service_point_by_node:
        lane = cells.name[body]
        a, b = cells.from_m[body], cells.to_m[body]
        passages.insert(
            0,
            Passage(
                f"lane:{lane}@{a:.3f}", a - b, 0.0, 1.0, t, groups.get(lane), checks.get(lane, ())
            ),
        )
    return passages


@dataclass(slots=True)
class TruckRun:
    """A truck's way through its passages and how far it has come."""

    truck: str
    passages: list[Passage]
    priority: int
    manual: bool = False
    sees_groups: bool = False
    """A manual driver who knows the single-track roads ahead are taken (told to yield)."""
    yielding_to: set[str] = field(default_factory=set)
    """Trucks it gave way to: it stays where it is while they hold anything on its way."""
    at: int = 0
    """Index of the passage the front is in."""
    released: int = 0
    """Passages before this index are released (rear plus gap clear)."""
    s: float = 0.0
    """Distance the front has driven along the way."""
    depart_at: float = 0.0
    """Not before this time does it leave its start (its planned departure)."""
    release_time: dict[int, float] = field(default_factory=dict)
    """When each released passage was released (rear plus gap clear)."""

    @property
    def finished(self) -> bool:
        """At the last passage (its goal)."""
        return self.at >= len(self.passages) - 1

    @property
    def next(self) -> Passage | None:
        """The passage it would enter next."""
        return None if self.finished else self.passages[self.at + 1]

    def holds(self) -> list[Passage]:
        """Passages it occupies: released ones excluded, the current one included."""
        return self.passages[self.released : self.at + 1]


def passages_of(
    plan: Plan,
    lane_group: Mapping[str, str | None],
    lane_checks: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Passage]:
    """A plan's node and lane steps as passages along the truck's way (groups from the yard)."""
    lane_checks = lane_checks or {}
    out: list[Passage] = []
    s = 0.0
    for step in plan.steps:
        if step.kind is ResourceKind.CONFLICT_GROUP:
            continue
        if step.kind is ResourceKind.NODE:
            out.append(Passage(f"node:{step.resource}", s, s, 0.0, step.t_enter))
            continue
        length = (step.to_m if step.to_m is not None else step.from_m) - step.from_m
        out.append(
            Passage(
                f"lane:{step.resource}@{step.from_m:.3f}",
                s,
                s + length,
                step.speed_mps or 1.0,
                step.t_enter,
                lane_group.get(step.resource),
                lane_checks.get(step.resource, ()),
            )
        )
        s += length
    return out


@dataclass
class Execution:
    """Runtime state of many trucks executing plans: who may move, who holds what."""

    footprint_m: float
    runs: dict[str, TruckRun] = field(default_factory=dict)
    _visits: dict[str, list[tuple[float, int, str, int]]] = field(default_factory=dict)
    """Per resource, every planned visit (planned time, priority, truck, passage index)."""
    _holders: dict[str, set[str]] = field(default_factory=dict)
    _last_release: dict[str, float] = field(default_factory=dict)
    stops: frozenset[str] = frozenset()
    """`node:<id>` of every service point: where a truck may stand inside a group."""

    @classmethod
    def of(
        cls,
        plans: Mapping[str, Plan] | Iterable[Plan],
        yard: Yard,
        footprint_m: float,
        manual: Iterable[str] = (),
        parked: Callable[[str], Passage | None] | None = None,
    ) -> Execution:
        """Execution of plans, priority in the order given; `manual` trucks ignore the order.

        `parked(node)` gives the lane cell a truck standing at that node occupies with its
        body (the siding behind a service point), so it is held until the truck has left.
        """
        plan_list = list(plans.values()) if isinstance(plans, Mapping) else list(plans)
        ex = cls(footprint_m)
        ex.stops = frozenset(f"node:{sp.node}" for sp in yard.service_points.values())
        manual_set = set(manual)
        groups = {lane.id: group_key(lane, yard) for lane in yard.lanes.values()}
        checks = {lane.id: group_checks(lane, yard) for lane in yard.lanes.values()}
        for k, plan in enumerate(plan_list):
            depart = plan.steps[0].t_exit if plan.steps else 0.0
            ex.add(
                TruckRun(
                    plan.truck,
                    passages_of(plan, groups, checks),
                    k,
                    plan.truck in manual_set,
                    depart_at=depart if math.isfinite(depart) else 0.0,
                ),
                parked,
            )
        return ex

    def add(self, run: TruckRun, parked: Callable[[str], Passage | None] | None = None) -> None:
        """Add a truck; with `parked`, its body behind its start holds the cell it stands on."""
        body = parked(run.passages[0].resource[5:]) if parked else None
        if body is not None:
            run.passages.insert(0, body)
            run.at = 1
        self.runs[run.truck] = run
        self._index(run)
        for p in run.holds():
            self._hold(run.truck, p)

    def _build_order(self) -> None:
        self._visits = {}
        for run in self.runs.values():
            self._index(run)

    def _keys(self, run: TruckRun) -> Iterable[tuple[str, tuple[float, int, str, int]]]:
        if run.manual:
            return  # nobody can wait for an order a driver does not keep
        for i, p in enumerate(run.passages):
            key = (p.planned_in, run.priority, run.truck, i)
            yield p.resource, key
            if p.group and (i == 0 or run.passages[i - 1].group != p.group):
                yield f"group:{p.group}", key

    def _index(self, run: TruckRun) -> None:
        for resource, key in self._keys(run):
            bisect.insort(self._visits.setdefault(resource, []), key)

    def _unindex(self, run: TruckRun) -> None:
        for resource, key in self._keys(run):
            visits = self._visits[resource]
            k = bisect.bisect_left(visits, key)
            if k < len(visits) and visits[k] == key:
                del visits[k]

    def _prev_of(self, truck: str, index: int, resource: str) -> tuple[str, int] | None:
        """The truck planned into `resource` just before this visit (None: first, or itself)."""
        visits = self._visits.get(resource)
        if not visits:
            return None
        run = self.runs[truck]
        p = run.passages[index]
        k = bisect.bisect_left(visits, (p.planned_in, run.priority, truck, index))
        if k == 0 or visits[k - 1][2] == truck:
            return None
        return visits[k - 1][2], visits[k - 1][3]

    def _hold(self, truck: str, p: Passage) -> None:
        self._holders.setdefault(p.resource, set()).add(truck)
        if p.group:
            self._holders.setdefault(f"group:{p.group}", set()).add(truck)

    def _unhold(self, truck: str, p: Passage, when: float) -> None:
        run = self.runs[truck]
        still = run.holds()
        if not any(q.resource == p.resource for q in still):
            self._holders.get(p.resource, set()).discard(truck)
        if p.group and not any(q.group == p.group for q in still):
            self._holders.get(f"group:{p.group}", set()).discard(truck)
            self._last_release[f"group:{p.group}"] = max(
                when, self._last_release.get(f"group:{p.group}", 0.0)
            )
        self._last_release[p.resource] = max(when, self._last_release.get(p.resource, 0.0))

    # -- the rules ---------------------------------------------------------------------

    def _released(self, truck: str, index: int, resource: str) -> bool:
        run = self.runs[truck]
        if resource.startswith("group:"):
            g = resource[6:]
            end = index
            while end + 1 < len(run.passages) and run.passages[end + 1].group == g:
                end += 1
            return run.released > end
        return run.released > index

    def _blockers_at(self, truck: str, i: int) -> set[tuple[str, str]]:
        """Why the truck may not enter passage i (the one after i - 1) now."""
        run = self.runs[truck]
        nxt = run.passages[i]
        here = run.passages[i - 1]
        out: set[tuple[str, str]] = set()
        wanted = [nxt.resource]
        if nxt.group and here.group != nxt.group:
            wanted.extend(nxt.group_keys())
        # Physical: nobody else may occupy what it enters. Manual drivers see only what is
        # right in front of them, not the far end of a single-track road; a junction's
        # movements they do see (a connector holds itself: its group is its own lane).
        connector = nxt.group is not None and nxt.resource[5:].partition("@")[0] == nxt.group
        seen = wanted if not run.manual or run.sees_groups or connector else wanted[:1]
        for resource in seen:
            out.update((o, resource) for o in self._holders.get(resource, ()) if o != truck)
        if nxt.group and here.group != nxt.group:
            # A junction (or single-track road) is granted only when the truck can leave it
            # whole: its body and gap fit past it, so it never stops inside.
            for k in self.beyond(truck, i):
                p = run.passages[k]
                needs = [p.resource]
                if p.group and p.group != nxt.group:
                    needs.extend(p.group_keys())
                # Room now, and on the lanes and nodes ahead the planned order too (whoever
                # is planned there first has been and gone). Not the order of the junctions
                # ahead: two trucks planned to pass each other between junctions close
                # together would each wait at a stop line for the other.
                for resource in needs:
                    out.update((o, resource) for o in self._holders.get(resource, ()) if o != truck)
                prev = None if run.manual else self._prev_of(truck, k, p.resource)
                if prev is not None and not self._released(prev[0], prev[1], p.resource):
                    out.add((prev[0], p.resource))
        if run.manual and nxt.resource.startswith("node:") and i + 1 < len(run.passages):
            # Drivers do not pull into a junction they cannot leave.
            after = run.passages[i + 1]
            beyond = [after.resource]
            if after.group and run.sees_groups:
                beyond.extend(after.group_keys())
            for resource in beyond:
                out.update(
                    (other, resource) for other in self._holders.get(resource, ()) if other != truck
                )
        if not run.manual:
            # Planned order: the truck planned there just before must have released it.
            for resource in wanted:
                prev = self._prev_of(truck, i, resource)
                if prev is not None and not self._released(prev[0], prev[1], resource):
                    out.add((prev[0], resource))
        return out

    def blockers(self, truck: str, *, stop_line_alone: bool = False) -> list[tuple[str, str]]:
        """Why a truck may not enter its next passage now: (other truck, resource) pairs.
        A stop-line node and the junction after it are one grant: standing at the stop
        line, the truck waits for the junction, and that is what it is said to wait for.
        `stop_line_alone`: the node on its own (a base may end at a stop line while the
        junction is taken: the truck drives up to it and waits there)."""
        run = self.runs[truck]
        if run.next is None:
            return []
        out = self._blockers_at(truck, run.at + 1)
        i = run.at + 2
        coupled = not stop_line_alone
        if coupled and not out and run.next.resource.startswith("node:") and i < len(run.passages):
            p = run.passages[i]
            if p.group and p.group != run.next.group:
                out = self._blockers_at(truck, i)
        if run.yielding_to:
            way = run.passages[run.at + 1 : run.at + 12]
            keys = {p.resource for p in way} | {k for p in way for k in p.group_keys()}
            still = {o for o in run.yielding_to if any(o in self._holders.get(k, ()) for k in keys)}
            run.yielding_to = still
            out.update((other, "giving way") for other in still)
        # Someone facing it inside the single-track road it is in blocks it too.
        out.update((other, "facing") for other in self.facing(truck))
        return sorted(out)

    def beyond(self, truck: str, index: int) -> list[int]:
        """The passages after the group that passage `index` begins, up to the first place
        it may stand: a lane cell a footprint long outside every group, or a service point.
        Lanes shorter than that between junctions are crossed without a stop (as planned):
        a truck standing there would have its body in the junction behind it."""
        run = self.runs[truck]
        g = run.passages[index].group
        end, ps = index, run.passages
        while end + 1 < len(ps) and (
            ps[end + 1].group == g
            or (
                ps[end + 1].resource.startswith("node:")
                and end + 2 < len(ps)
                and ps[end + 2].group == g
            )
        ):
            end += 1
            if ps[end].resource in self.stops:
                return []  # it may stand there (a dead-end bay's service point)
        # On to where it may stand: a lane cell a footprint long outside any group (its
        # body and gap fit in it, behind the next stop line), or a service point.
        out = []
        for k in range(end + 1, min(len(ps), end + 1 + MAX_BEYOND)):
            p = ps[k]
            out.append(k)
            if p.resource in self.stops:
                break
            long_enough = p.s_out - p.s_in >= self.footprint_m - EPS
            if p.resource.startswith("lane:") and p.group is None and long_enough:
                break
        return out

    def facing(self, truck: str) -> list[str]:
        """Trucks in the same single-track road as this one, driving the other way."""
        run = self.runs[truck]
        here = run.passages[run.at]
        if not here.group:
            return []
        lane = here.resource.partition("@")[0]
        out = []
        for other in self._holders.get(f"group:{here.group}", ()):
            if other == truck:
                continue
            theirs = [p for p in self.runs[other].holds() if p.group == here.group]
            if any(p.resource.partition("@")[0] != lane for p in theirs):
                out.append(other)
        return out

    def may_enter(self, truck: str) -> bool:
        """Whether a truck may enter its next passage now."""
        return not self.runs[truck].finished and not self.blockers(truck)

    def drove_to(self, truck: str, s: float, when: Callable[[float], float]) -> None:
        """The front is at `s`: release what the rear plus gap has cleared, at `when(s_clear)`."""
        run = self.runs[truck]
        run.s = s
        while run.released < run.at and (
            run.passages[run.released].s_out + self.footprint_m <= s + EPS
        ):
            clear_at = run.passages[run.released].s_out + self.footprint_m
            run.release_time[run.released] = when(clear_at)
            gone = run.passages[run.released]
            run.released += 1
            self._unhold(truck, gone, run.release_time[run.released - 1])

    def free_from(self, truck: str) -> float:
        """The latest release of what the truck's next passage needs: it may not enter before."""
        nxt = self.runs[truck].next
        if nxt is None:
            return 0.0
        latest = self._last_release.get(nxt.resource, 0.0)
        for key in nxt.group_keys():
            latest = max(latest, self._last_release.get(key, 0.0))
        return latest

    def enter_next(self, truck: str) -> Passage:
        """Move the front into the next passage (the caller has checked may_enter)."""
        run = self.runs[truck]
        run.at += 1
        self._hold(truck, run.passages[run.at])
        return run.passages[run.at]

    def rewind(self, truck: str, k: int) -> None:
        """The truck reverses to passage k (behind it): it holds what lies between again."""
        run = self.runs[truck]
        gone = run.passages[k + 1 : run.at + 1]
        run.at = k
        run.s = run.passages[k].s_out
        for p in gone:
            self._unhold(truck, p, 0.0)
        run.released = min(run.released, k)
        for i in [i for i in run.release_time if i >= run.released]:
            del run.release_time[i]
        for p in run.holds():
            self._hold(truck, p)

    def yield_to(self, truck: str, others: Iterable[str]) -> None:
        """From now on the truck comes after `others` wherever their ways cross."""
        run = self.runs[truck]
        after: dict[str, float] = {}
        for other in others:
            for p in self.runs[other].passages[self.runs[other].at + 1 :]:
                after[p.resource] = max(after.get(p.resource, -math.inf), p.planned_in)
        run.passages = [
            *run.passages[: run.at + 1],
            *(
                Passage(
                    p.resource,
                    p.s_in,
                    p.s_out,
                    p.speed_mps,
                    max(p.planned_in, after[p.resource] + 1e-3),
                    p.group,
                    p.checks,
                )
                if p.resource in after
                else p
                for p in run.passages[run.at + 1 :]
            ),
        ]
        self._build_order()

    def reroute(self, truck: str, passages: list[Passage]) -> None:
        """Replace the truck's way after its current passage; the plan order is rebuilt."""
        run = self.runs[truck]
        self._unindex(run)
        run.passages = [*run.passages[: run.at + 1], *passages]
        self._index(run)

    def replace(self, truck: str, kept: int, passages: list[Passage]) -> list[str]:
        """A new plan for a truck on the move: it keeps what it holds up to passage `kept`
        (its rear behind it, its front's passage) and takes `passages` after it; anything
        it was granted beyond `kept` is given back. Returns the resources given back."""
        run = self.runs[truck]
        given = self._drop_after(run, kept)
        self._unindex(run)
        held = run.passages[run.released : kept + 1]
        times = {i - run.released: t for i, t in run.release_time.items() if i >= run.released}
        run.passages = [*held, *passages]
        run.release_time = times
        run.released, run.at = 0, len(held) - 1
        self._index(run)
        return given

    def give_back(self, truck: str, kept: int) -> list[str]:
        """Passages granted beyond `kept` are given back (the truck will stop before them)."""
        return self._drop_after(self.runs[truck], kept)

    def _drop_after(self, run: TruckRun, kept: int) -> list[str]:
        if run.at <= kept:
            return []
        gone = run.passages[kept + 1 : run.at + 1]
        run.at = kept
        for p in gone:
            self._unhold(run.truck, p, 0.0)
        return [p.resource for p in gone] + [f"group:{p.group}" for p in gone if p.group]

    def holders(self, resource: str) -> set[str]:
        """The trucks occupying a resource (a node, lane cell or group:...) now."""
        return set(self._holders.get(resource, ()))

    def held_twice(self) -> list[tuple[str, list[str]]]:
        """Nodes and lane cells occupied by more than one truck now (never, if all is well)."""
        return sorted(
            (r, sorted(ts))
            for r, ts in self._holders.items()
            if len(ts) > 1 and not r.startswith("group:")
        )

    # -- deadlocks ---------------------------------------------------------------------

    def wait_for(self, waiting: Iterable[str]) -> nx.DiGraph:
        """Edges from each waiting truck to the trucks it waits for, labelled with resources."""
        g = nx.DiGraph()
        for truck in waiting:
            g.add_node(truck)
            for other, resource in self.blockers(truck):
                g.add_edge(truck, other, resource=resource)
        return g

    def deadlocks(self, waiting: Iterable[str]) -> list[list[str]]:
        """Circular waits among the waiting trucks (each a cycle of truck ids)."""
        waiting = list(waiting)
        g = self.wait_for(waiting)
        stuck = set(waiting)
        # Only trucks that are themselves waiting can close a circle.
        g = g.subgraph([n for n in g if n in stuck]).copy()
        return [sorted(c) for c in nx.simple_cycles(g)] if g.number_of_edges() else []

    def lowest_priority(self, trucks: Iterable[str]) -> str | None:
        """The truck that yields in a deadlock: the lowest-priority one that takes orders."""
        candidates = [self.runs[t] for t in trucks if not self.runs[t].manual]
        if not candidates:
            return None
        return max(candidates, key=lambda r: r.priority).truck
