"""Conflict-free plans for a whole fleet: prioritized SIPP over reserved time windows.

Why it always finds plans (Čáp, Vokřínek and Kleiner 2015, "revised prioritized
planning"): trucks are planned one after another; each avoids the holds of the trucks
planned before it and the start spots of those not planned yet. In a *well-formed*
yard — every start and goal a service point on a siding off the through lanes, every
service point reachable from every other without passing a third (the rule
`yardfleet map validate` checks), starts and goals all different — a truck can always
wait at its start until every earlier truck is parked at its goal, which blocks no
through lane, and then drive a path that passes no other service point. So every truck
gets a plan; waiting only shortens it. Sidings at least a truck's length plus gap long
keep the junction behind a parked truck clear (the generator builds them so).

The guarantee holds in metres, not only in the planner's resources, on a yard drawn as a
truck sees it (`maps.junctions`: what `generate_terminal` returns): the lanes of a road lie
side by side, one lane width apart, so two bodies on them keep 1 m; every junction is an
area whose connectors share its conflict group, held by one truck from the moment its
front crosses the stop line until its rear and gap have left; a truck stands only at the
end of a cell at least a footprint long or at a service point, and every lane entering a
junction ends at a stop line set back until a body standing there is 0.9 m clear of every
movement through the junction (and a siding holds its truck clear of the through lanes).
So plans free of resource conflicts are free of body contacts; `routing.bodies` checks
that independently, body to body, on what the trucks drove.

Outside those conditions (two trucks sent to one spot, a start on a through lane after a
breakdown, lanes closed so that a service point is cut off) a truck may fail; the
planner then restarts with that truck first (priority restarts), and reports the trucks
it could not plan with the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra

from routing.cells import CELL, CellGraph, Speeds
from routing.errors import PlanningError
from routing.network import LaneNetwork
from routing.plan import Plan, ResourceKind, Step
from routing.reservations import ReservationTable
from routing.sipp import SearchStats, Visit, search


@dataclass(frozen=True, slots=True)
class Task:
    """A truck to move from `start` to `goal` (service points or nodes), not before `release_s`."""

    truck: str
    start: str
    goal: str
    laden: bool = False
    release_s: float = 0.0


@dataclass(slots=True)
class PlanningReport:
    """What a planning round produced and what it cost."""

    plans: dict[str, Plan] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    expansions: int = 0
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Every truck planned."""
        return not self.failed


class FleetPlanner:
    """Plans trucks over one yard's live network, keeping every plan's holds reserved."""

    def __init__(self, network: LaneNetwork) -> None:
        self.network = network
        self.cells = CellGraph(network)
        self.table = ReservationTable()
        self.groups = ReservationTable()
        self.plans: dict[str, Plan] = {}
        self.tasks: dict[str, Task] = {}
        self._standing: dict[str, tuple[int, int | None]] = {}
        self._start_rear: dict[str, int | None] = {}
        """Per truck, where its rear was when its plan was made (held until it moves on)."""
        """Trucks stopped where they are (`stand`): the resource of the front and the rear."""
        self._h_cache: dict[tuple[int, bool, int], list[float]] = {}

    # -- places --------------------------------------------------------------------------

    def node_of(self, place: str) -> str:
        """The node of a service point or node id."""
        return self.network.yard.node_of(place)

    def _heuristic(self, goal_node: str, laden: bool) -> list[float]:
        net = self.network
        key = (net.version, laden, net.node_index[goal_node])
        h = self._h_cache.get(key)
        if h is None:
            if len(self._h_cache) > 4096 or any(k[0] != net.version for k in self._h_cache):
                self._h_cache.clear()
            dist: npt.NDArray[np.float64] = dijkstra(
                net.matrix(laden).T.tocsr(), directed=True, indices=net.node_index[goal_node]
            )
            h = self.cells.heuristic(dist, laden)
            self._h_cache[key] = h
        return h

    # -- reservations --------------------------------------------------------------------

    def _park(self, truck: str, node: str, t_from: float) -> None:
        """Reserve a spot (its node and the cell its body stands on) from `t_from` for ever."""
        r = self.cells.node_res[node]
        self.table.hold(r, t_from, math.inf, truck)
        body = self.cells.entry_cell(node)
        if body is not None and self.network.yard.service_point_by_node.get(node):
            self.table.hold(body, t_from, math.inf, truck)

    def _reserve(
        self, truck: str, visits: list[Visit], speeds: Speeds, behind: int | None = None
    ) -> None:
        cells, clear = self.cells, speeds.clear_after
        for k, v in enumerate(visits):
            end = v.t_out + clear[visits[k + 1].resource] if k + 1 < len(visits) else math.inf
            self.table.hold(v.resource, v.t_in, end, truck)
        first = visits[0]
        body = behind
        if body is None and cells.kind[first.resource] != CELL and cells.is_stop[first.resource]:
            body = cells.entry_cell(cells.name[first.resource])
        if body is not None and len(visits) > 1:
            self.table.hold(body, first.t_in, first.t_out + clear[visits[1].resource], truck)
        if len(visits) > 1 and cells.kind[visits[-2].resource] == CELL:
            self.table.hold(visits[-2].resource, visits[-2].t_in, math.inf, truck)
        for a, b in self._group_runs(visits):
            after = clear[visits[b + 1].resource] if b + 1 < len(visits) else math.inf
            self.groups.hold(
                cells.group[visits[a].resource], visits[a].t_in, visits[b].t_out + after, truck
            )

    def _group_runs(self, visits: list[Visit]) -> list[tuple[int, int]]:
        runs: list[tuple[int, int]] = []
        group = self.cells.group
        k = 0
        while k < len(visits):
            g = group[visits[k].resource]
            if g is None:
                k += 1
                continue
            end = k
            while end + 1 < len(visits) and (
                group[visits[end + 1].resource] == g
                or (
                    self.cells.kind[visits[end + 1].resource] != CELL
                    and end + 2 < len(visits)
                    and group[visits[end + 2].resource] == g
                )
            ):
                end += 1
            runs.append((k, end))
            k = end + 1
        return runs

    # -- plans ---------------------------------------------------------------------------

    def _to_plan(self, truck: str, visits: list[Visit], speeds: Speeds) -> Plan:
        cells = self.cells
        steps: list[Step] = []
        for v in visits:
            r = v.resource
            if cells.kind[r] == CELL:
                steps.append(
                    Step(
                        cells.name[r],
                        ResourceKind.LANE,
                        v.t_in,
                        v.t_out,
                        speeds.speed[r],
                        cells.from_m[r],
                        cells.to_m[r],
                    )
                )
            else:
                steps.append(Step(cells.name[r], ResourceKind.NODE, v.t_in, v.t_out))
        for a, b in self._group_runs(visits):
            after = speeds.clear_after[visits[b + 1].resource] if b + 1 < len(visits) else math.inf
            steps.append(
                Step(
                    str(cells.group[visits[a].resource]),
                    ResourceKind.CONFLICT_GROUP,
                    visits[a].t_in,
                    visits[b].t_out + after,
                )
            )
        steps.sort(key=lambda s: (s.t_enter, s.kind is ResourceKind.CONFLICT_GROUP))
        return Plan.of(truck, steps)

    def plan_one(self, task: Task, stats: SearchStats | None = None) -> Plan:
        """Plan one truck around every hold already reserved; reserve its plan."""
        start = self.node_of(task.start)
        s = self.cells.node_res[start]
        body = self.cells.entry_cell(start) if self.cells.is_stop[s] else None
        self.tasks[task.truck] = task
        return self._plan_from(task, s, task.release_s, body, stats or SearchStats())

    def _plan_from(
        self,
        task: Task,
        s: int,
        t0: float,
        body: int | None,
        stats: SearchStats,
        behind: int | None = None,
    ) -> Plan:
        """Plan a truck standing at resource `s` from time t0 to its task's goal."""
        goal = self.node_of(task.goal)
        self.table.release(task.truck)
        self.groups.release(task.truck)
        cells = self.cells
        gl = cells.node_res[goal]
        speeds = cells.speeds(task.laden)
        if s == gl:
            visits = [Visit(s, t0, math.inf)]
        else:
            found = search(
                cells,
                self.table,
                self.groups,
                speeds,
                self._heuristic(goal, task.laden),
                s,
                t0,
                gl,
                body if body is not None else behind,
                stats,
            )
            if found is None:
                self.table.hold(s, t0, math.inf, task.truck)
                if body is not None:
                    self.table.hold(body, t0, math.inf, task.truck)
                raise PlanningError(
                    f"truck {task.truck!r}: no conflict-free path from {cells.name[s]!r} "
                    f"to {task.goal!r} after t={t0:.1f}s"
                )
            visits = [Visit(found[0].resource, t0, found[0].t_out), *found[1:]]
        self._reserve(task.truck, visits, speeds, behind)
        plan = self._to_plan(task.truck, visits, speeds)
        self.plans[task.truck] = plan
        self._standing.pop(task.truck, None)
        self._start_rear[task.truck] = body if body is not None else behind
        return plan

    # -- repair --------------------------------------------------------------------------

    def resource_at(self, plan: Plan, t: float) -> int:
        """The planner resource where a truck's front is at time t on its plan."""
        return self._position(plan, t)[0]

    def repair(
        self,
        now: float,
        *,
        closed: Sequence[str] = (),
        late: Mapping[str, float] | None = None,
        broken: Sequence[str] = (),
        max_rounds: int = 4,
        lag: Mapping[str, float] | None = None,
        committed: Mapping[str, str] | None = None,
    ) -> PlanningReport:
        """Repair only the plans a change touches, from where each truck is at `now`.

        `closed`: lanes just closed (close them on the network first): trucks that would
        still enter one are re-planned. `late`: trucks that run this many seconds behind
        their plan: re-planned from where they really are. `broken`: trucks broken down
        where they stand: their spot is held for ever, as an obstacle, and every truck
        that would pass it is re-planned around it. Everybody else keeps their plan.
        `lag`: how far behind its plan each truck is as far as the dispatcher knows (from
        what it reports); where a repair touches it, it starts from there, not from where
        its plan says (a lag alone re-plans nobody; `late` does). `committed`: trucks that
        will drive their plan up to this node whatever happens (a released base): their
        plan is kept up to there and repaired from there on.
        """
        t_start = time.perf_counter()
        forced = set(late or {})
        late = {**(lag or {}), **(late or {})}
        closed_set = set(closed)
        report = PlanningReport()
        where: dict[str, int] = {}
        rears: dict[str, int] = {}
        for truck in broken:
            at = now - late.get(truck, 0.0)
            self.stand(truck, at)  # it stays where it broke down until it is repaired
            spot, rear = self._standing[truck]
            where[truck] = spot
            if rear is not None:
                rears[truck] = rear
        blocked = {where[t] for t in broken} | set(rears.values())
        affected = set(forced)
        for truck, plan in self.plans.items():
            if truck in broken:
                continue
            behind_by = late.get(truck, 0.0)
            future = [st for st in plan.steps if st.t_enter > now - behind_by]
            uses_closed = any(
                st.kind is ResourceKind.LANE and st.resource in closed_set for st in future
            )
            passes_broken = bool(blocked) and any(
                self._step_resource(st) in blocked
                for st in future
                if st.kind is not ResourceKind.CONFLICT_GROUP
            )
            if uses_closed or passes_broken:
                affected.add(truck)
        order = [t for t in self.plans if t in affected]
        stats = SearchStats()
        # Where each truck starts from is fixed before its first re-plan: a later round must
        # not read it off the plan an earlier round made (a plan leaving at once has the
        # truck in its second step already at `now`).
        origin: dict[str, tuple[int, int | None]] = {}
        original: dict[str, Plan] = {}
        committed = committed or {}
        for _ in range(max_rounds):
            report.failed.clear()
            for truck in order:
                self.table.release(truck)
                self.groups.release(truck)
            for truck in order:
                task = self.tasks[truck]
                if truck not in origin:
                    origin[truck] = self._position(self.plans[truck], now - late.get(truck, 0.0))
                s, behind = origin[truck]
                old = original.setdefault(truck, self.plans[truck])
                try:
                    keep = committed.get(truck)
                    if keep is not None:
                        shift = late.get(truck, 0.0)
                        plan = self._plan_on_from(task, old, keep, shift, now, origin[truck], stats)
                    else:
                        plan = self._plan_from(task, s, now, None, stats, behind)
                    report.plans[truck] = plan
                except PlanningError as exc:
                    why = f"; broken down: {', '.join(broken)}" if broken else ""
                    report.failed[truck] = f"{exc}{why}"
            # A truck re-planned from where it stands holds that place (and its rear's) from
            # now, whatever others had planned there: they go around it, after it.
            clash = {
                other
                for truck in order
                if truck in report.plans
                for other in self._crossing_start(truck, origin[truck], now)
                if other not in broken
            }
            if not report.failed and not clash:
                break
            # Whoever holds a failed truck's spot after now gets re-planned too.
            more = clash | {
                h[2]
                for truck in report.failed
                for h in self.table.holds(self.resource_at(self.plans[truck], now))
                if h[2] != truck and h[2] not in broken and h[1] > now
            }
            if not more - set(order) and not clash:
                break
            order = [t for t in order if t not in clash]
            order += [t for t in self.plans if t in more and t not in order]
        report.expansions = stats.expansions
        report.seconds = time.perf_counter() - t_start
        return report

    def _plan_on_from(
        self,
        task: Task,
        old: Plan,
        node: str,
        shift: float,
        now: float,
        start: tuple[int, int | None],
        stats: SearchStats,
    ) -> Plan:
        """Keep `old` (`shift` s late) from where the truck is up to `node`; plan on from
        there. Without `node` ahead on the old plan: plan from where the truck is."""
        s, behind = start
        steps = [st for st in old.steps if st.kind is not ResourceKind.CONFLICT_GROUP]
        ahead = [
            k
            for k, st in enumerate(steps)
            if st.kind is ResourceKind.NODE and st.resource == node and st.t_enter + shift > now
        ]
        if not ahead:
            return self._plan_from(task, s, now, None, stats, behind)
        k = ahead[0]
        prefix = [
            Visit(self._step_resource(st), max(now, st.t_enter + shift), st.t_exit + shift)
            for st in steps[:k]
            if st.t_exit + shift > now
        ]
        if not prefix or prefix[0].resource != s:
            return self._plan_from(task, s, now, None, stats, behind)
        t_node = steps[k].t_enter + shift
        rear = self._step_resource(steps[k - 1]) if k > 0 else None
        new = self._plan_from(task, self.cells.node_res[node], t_node, None, stats, rear)
        visits = prefix + [
            Visit(self._step_resource(st), st.t_enter, st.t_exit)
            for st in new.steps
            if st.kind is not ResourceKind.CONFLICT_GROUP
        ]
        self.table.release(task.truck)
        self.groups.release(task.truck)
        speeds = self.cells.speeds(task.laden)
        self._reserve(task.truck, visits, speeds, behind)
        plan = self._to_plan(task.truck, visits, speeds)
        self.plans[task.truck] = plan
        self._start_rear[task.truck] = behind
        return plan

    def _crossing_start(self, truck: str, start: tuple[int, int | None], now: float) -> set[str]:
        """Other trucks whose holds overlap this truck's on the place it starts from."""
        out: set[str] = set()
        for r in (r for r in start if r is not None):
            holds = self.table.holds(r)
            mine = [(a, b) for a, b, t in holds if t == truck]
            out.update(
                t
                for a2, b2, t in holds
                if t != truck and b2 > now and any(a2 < b and a < b2 for a, b in mine)
            )
        return out

    def forget_before(self, t: float) -> None:
        """Forget holds that ended before t: searches start at the present, and a table
        that keeps a whole shift's past makes every search scan it."""
        self.table.forget_before(t)
        self.groups.forget_before(t)

    def stand(self, truck: str, now: float) -> Plan:
        """Stop a truck where its plan has it at `now`, for ever: its new plan (a repair that
        failed leaves a truck no way on; standing still, it stays out of everyone's way).

        Its front's resource and its body's are held: standing in a node, the body is in
        the lane cell it came through (a service point's siding cell, where it is parked).
        """
        old = self.plans[truck]
        s, behind = self._position(old, now)
        if behind is None and self.cells.kind[s] != CELL:
            if self.cells.is_stop[s]:
                behind = self.cells.entry_cell(self.cells.name[s])
            else:
                lane = ResourceKind.LANE
                lanes = [st for st in old.steps if st.kind is lane and st.t_enter < now]
                if lanes:
                    behind = self.resource_at(old, lanes[-1].t_enter)
        self.table.release(truck)
        self.groups.release(truck)
        speeds = self.cells.speeds(self.tasks[truck].laden)
        visits = [Visit(s, now, math.inf)]
        self._reserve(truck, visits, speeds)
        if behind is not None:
            self.table.hold(behind, now, math.inf, truck)
        plan = self._to_plan(truck, visits, speeds)
        self.plans[truck] = plan
        self._standing[truck] = (s, behind)
        return plan

    def _position(self, plan: Plan, t: float) -> tuple[int, int | None]:
        """Where the front is at t, and the resource just behind it (its rear may be there).

        At the very moment it enters a resource it is taken to be still in the one before
        (at its end): a plan made at t leaving at once has the truck where it starts.
        """
        standing = self._standing.get(plan.truck)
        if standing is not None and self.plans.get(plan.truck) is plan:
            return standing  # stopped: where it stood when it stopped, rear included
        steps = [st for st in plan.steps if st.kind is not ResourceKind.CONFLICT_GROUP]
        k = max((i for i, st in enumerate(steps) if st.t_enter < t), default=0)
        here = self._step_resource(steps[k])
        if k == 0:  # still where its plan starts: its rear is where it was then
            return here, self._start_rear.get(plan.truck) if self.plans.get(
                plan.truck
            ) is plan else None
        # Its rear is still behind only until the front is a footprint into this resource.
        clear = self.cells.speeds(self.tasks[plan.truck].laden).clear_after[here]
        return here, (self._step_resource(steps[k - 1]) if steps[k].t_enter + clear > t else None)

    def _step_resource(self, step: Step) -> int:
        if step.kind is ResourceKind.NODE:
            return self.cells.node_res[step.resource]
        return next(
            r
            for r in self.cells.lane_cells[step.resource]
            if abs(self.cells.from_m[r] - step.from_m) < 1e-6
        )

    def plan(
        self,
        tasks: Sequence[Task],
        *,
        max_restarts: int = 5,
        progress: Callable[[int, int], None] | None = None,
    ) -> PlanningReport:
        """Plan every task in priority order (the order given), with priority restarts."""
        t0 = time.perf_counter()
        self._check(tasks)
        order = list(tasks)
        report = PlanningReport()
        for attempt in range(max_restarts + 1):
            report = PlanningReport(restarts=attempt, expansions=report.expansions)
            for task in order:
                self.table.release(task.truck)
                self.groups.release(task.truck)
            for task in order:
                self._park(task.truck, self.node_of(task.start), task.release_s)
            stats = SearchStats()
            for k, task in enumerate(order):
                try:
                    report.plans[task.truck] = self.plan_one(task, stats)
                except PlanningError as exc:
                    report.failed[task.truck] = str(exc)
                if progress:
                    progress(k + 1, len(order))
            report.expansions += stats.expansions
            if not report.failed or attempt == max_restarts:
                break
            failed = [t for t in order if t.truck in report.failed]
            order = failed + [t for t in order if t.truck not in report.failed]
        report.seconds = time.perf_counter() - t0
        return report

    def _check(self, tasks: Sequence[Task]) -> None:
        trucks = [t.truck for t in tasks]
        dup = sorted({t for t in trucks if trucks.count(t) > 1})
        if dup:
            raise PlanningError(f"trucks with more than one task: {', '.join(dup)}")
        goals: dict[str, str] = {}
        for t in tasks:
            goal = self.node_of(t.goal)
            if goal in goals:
                raise PlanningError(
                    f"trucks {goals[goal]!r} and {t.truck!r} are both sent to {t.goal!r}; "
                    "a spot holds one truck"
                )
            goals[goal] = t.truck
            self.node_of(t.start)
