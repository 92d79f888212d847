"""The router seam: everything the dispatcher asks of routing's `FleetPlanner`.

A leg is planned around every other truck's plan (`leg`); a truck that must stay where it
is gets a standing plan (`here`). A change — a closed lane, a breakdown, a truck late on
its plan — repairs only the plans it touches (`repair`), each from where its truck
reports it is (`lag`: how far behind its plan that is), and, with `keep_bases`, on from
the end of what the truck has been released. A truck whose repair fails stands where it
is (`stranded`, tried again at every tick), and whoever would pass it is re-planned
around it in turn, a few rounds. The travel-time tables (empty and laden) say whether a
spot can be reached at all now (`reachable`) and which free spot is nearest (`nearest`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fleet.problems import Problem, ProblemKind
from fleet.protocol import State
from fleet.release import Release, parse_cut
from fleet.spots import Spots
from fleet.trucks import Truck
from maps import Yard
from routing.plan import Plan, ResourceKind, Step
from routing.planner import FleetPlanner, Task
from routing.table import TravelTimeTable

__all__ = ["Repaired", "Router"]

REPAIR_ROUNDS = 4
"""Rounds of standing the trucks whose repair failed and re-planning the others around them."""


@dataclass
class Repaired:
    """What a repair gives: per truck its new plan and what it is for ("repair", or
    "stand": its repair failed), and the problems of those that failed, in order."""

    plans: dict[str, tuple[Plan, str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class Router:
    """Legs, standing plans, repairs and travel times for the dispatcher's trucks."""

    def __init__(
        self,
        yard: Yard,
        planner: FleetPlanner,
        release: Release,
        spots: Spots,
        trucks: Mapping[str, Truck],
        *,
        keep_bases: bool,
    ) -> None:
        self.yard = yard
        self.planner = planner
        self.network = planner.network
        self.release = release
        self.spots = spots
        self.trucks = trucks
        self.keep_bases = keep_bases
        points = sorted(yard.service_points)
        self.empty = TravelTimeTable(self.network, False, points)
        self.laden = TravelTimeTable(self.network, True, points)
        self.stranded: set[str] = set()
        """Trucks whose repaired plan failed: they stand (a standing plan) and are retried."""
        self._pruned_at = -math.inf
        self._steps: dict[str, tuple[Plan, list[Step], dict[str, list[int]]]] = {}
        """Per truck, its plan's steps without conflict groups and where each resource is
        in them (`lag`, on every state: made once per plan)."""

    def tidy(self, now: float) -> None:
        """Forget holds that ended (every five minutes)."""
        if now - self._pruned_at >= 300.0:
            self.planner.forget_before(now - 60.0)
            self._pruned_at = now

    # -- legs ------------------------------------------------------------------------

    def leg(self, t: Truck, spot: str, release_s: float) -> Plan:
        """The truck's plan from where it stands to `spot`, leaving no earlier than
        `release_s` (raises routing's PlanningError or RoutingError if there is none)."""
        assert t.spot is not None
        return self.planner.plan_one(Task(t.id, t.spot, spot, laden=t.laden, release_s=release_s))

    def here(self, truck: str, spot: str, now: float, *, laden: bool = False) -> Plan:
        """A standing plan: the truck stays on its spot from now on."""
        return self.planner.plan_one(Task(truck, spot, spot, laden=laden, release_s=now))

    def redirect(self, t: Truck, spot: str, now: float) -> None:
        """The truck's task goes to `spot` instead, from where it started (a repair plans it)."""
        task = self.planner.tasks[t.id]
        self.planner.tasks[t.id] = Task(t.id, task.start, spot, laden=t.laden, release_s=now)

    def reachable(self, t: Truck, spot: str) -> bool:
        """Whether the truck can get to the spot at all now (closed lanes considered)."""
        if t.spot is None or t.spot == spot:
            return True
        table = self.laden if t.laden else self.empty
        return bool(np.isfinite(table.times[table.index[t.spot], table.index[spot]]))

    def nearest(self, t: Truck, spots: Sequence[str]) -> str | None:
        """The free spot nearest the truck (driving empty); the first free one if it
        stands nowhere."""
        free = [s for s in spots if self.spots.free(s, t.id)]
        if not free or t.spot is None:
            return free[0] if free else None
        row = self.empty.index[t.spot]
        return min(free, key=lambda s: float(self.empty.times[row, self.empty.index[s]]))

    # -- lanes -----------------------------------------------------------------------

    def close(self, lane: str) -> None:
        """No plan uses the lane from now on."""
        self.yard.lane(lane)
        self.network.close(lane)

    def reopen(self, lane: str) -> None:
        """New plans may use the lane again."""
        self.yard.lane(lane)
        self.network.reopen(lane)

    # -- repairs ---------------------------------------------------------------------

    def lag(self, truck: str, node: str, now: float, metres: float | None = None) -> float:
        """How late the truck is: now against when its plan was where the truck reports.

        Where is the last node it passed plus `metres` along its plan since (VDA 5050's
        `distanceSinceLastNode`; for a moving truck, plus the distance it needs to stop,
        since it cannot turn off before that). A truck standing at a stretch's end is
        still in that stretch: the moment is taken just before the next one.
        """
        plan = self.planner.plans.get(truck)
        if plan is None:
            return 0.0
        steps, where = self._steps_of(truck, plan)
        at = [i for i in where.get(node, ()) if steps[i].t_enter <= now]
        cut = parse_cut(node)
        if cut is not None:  # a cell boundary: the cell that starts there
            at = [
                i
                for i, s in enumerate(steps)
                if s.resource == cut[0] and abs(s.from_m - cut[1]) < 0.01 and s.t_enter <= now
            ]
        if at:
            k, covered = at[-1], 0.0
        else:  # a plan made on the move starts part-way along the lane from that node
            k = next(
                (
                    i
                    for i, s in enumerate(steps)
                    if s.kind is ResourceKind.LANE and self.yard.lanes[s.resource].start == node
                ),
                -1,
            )
            if k < 0:
                return 0.0
            covered = steps[k].from_m
        if not metres or metres <= covered:
            return max(0.0, now - steps[k].t_enter)
        for s in steps[k:]:
            if s.kind is not ResourceKind.LANE:
                continue
            end = s.to_m if s.to_m is not None else self.yard.lanes[s.resource].length_m
            length = end - s.from_m
            if covered + length >= metres - 1e-6:
                drive = (metres - covered) / (s.speed_mps or 1.0)
                return now - (s.t_enter + min(drive, s.t_exit - s.t_enter) - 1e-6)
            covered += length
        return max(0.0, now - steps[-1].t_enter)

    def _steps_of(self, truck: str, plan: Plan) -> tuple[list[Step], dict[str, list[int]]]:
        """The plan's steps but conflict groups, and the indices of each resource's."""
        known = self._steps.get(truck)
        if known is not None and known[0] is plan:
            return known[1], known[2]
        steps = [s for s in plan.steps if s.kind is not ResourceKind.CONFLICT_GROUP]
        where: dict[str, list[int]] = {}
        for i, s in enumerate(steps):
            where.setdefault(s.resource, []).append(i)
        self._steps[truck] = (plan, steps, where)
        return steps, where

    def behind(self, t: Truck, state: State, now: float) -> float:
        """How late the truck is by its state: at the node it passed last, plus the metres
        since and, moving, the distance it needs to stop (see `lag`)."""
        ahead = state.distance_since_last_node or 0.0
        speed = state.velocity.vx if state.velocity and state.velocity.vx else 0.0
        if state.driving and speed > 0:
            ahead += self.network.vehicle.stopping_m(speed)
        return self.lag(t.id, state.last_node_id or "", now, ahead)

    def committed(self, broken: Sequence[str]) -> dict[str, str]:
        """Per truck, the node up to which it drives its released base whatever a repair
        finds (none while a truck is broken down: a base may lead past it)."""
        if not self.keep_bases or broken:
            return {}
        closed = self.network.closed
        out = {}
        for truck in self.release.ledgers:
            node = self.release.decision_point(truck, closed)
            if node is not None and self.trucks[truck].broken_at is None:
                out[truck] = node
        return out

    def _lags(self, late: Mapping[str, float]) -> dict[str, float]:
        return {t.id: t.lag for t in self.trucks.values() if t.lag and t.id not in late}

    def repair(
        self,
        now: float,
        *,
        closed: Sequence[str] = (),
        late: Mapping[str, float] | None = None,
        broken: Sequence[str] = (),
    ) -> Repaired:
        """Repair the plans a change touches; a truck whose repair fails stops where it is,
        and whoever would pass it is re-planned around it in turn (a few rounds)."""
        late = dict(late or {})
        lag = self._lags(late)
        report = self.planner.repair(
            now, closed=closed, late=late, broken=broken, lag=lag, committed=self.committed(broken)
        )
        for truck in report.plans:
            self.trucks[truck].lag = 0.0
        out = Repaired({t: (p, "repair") for t, p in report.plans.items()})
        failed = dict(report.failed)
        stood: set[str] = set()
        for _ in range(REPAIR_ROUNDS):
            newly = [truck for truck in failed if truck not in stood]
            if not newly:
                break
            for truck in newly:
                goal = self.planner.tasks[truck].goal if truck in self.planner.tasks else None
                out.problems.append(
                    Problem(
                        ProblemKind.REPAIR_FAILED,
                        truck,
                        now,
                        spot=goal,
                        trucks=tuple(broken),
                        detail=failed[truck],
                    )
                )
                self.stranded.add(truck)
                behind_by = late.get(truck, lag.get(truck, 0.0))
                out.plans[truck] = (self.planner.stand(truck, now - behind_by), "stand")
            stood.update(newly)
            # The others go around them, from where each is (those just planned: on plan).
            lag = self._lags(late)
            again = self.planner.repair(
                now, broken=newly, lag=lag, committed=self.committed(newly)
            )
            for truck, plan in again.plans.items():
                out.plans[truck] = (plan, "repair")
                self.trucks[truck].lag = 0.0
            failed = dict(again.failed)
            broken = newly
        for truck, (_, purpose) in out.plans.items():
            if purpose != "stand":
                self.stranded.discard(truck)
        return out
