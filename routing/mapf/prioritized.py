"""Prioritized planning: a good first solution when the map leaves room, repaired and restarted.

Agents are planned one after another with SIPP, each avoiding the paths of those planned
before it (Erdmann and Lozano-Pérez, 1987). Two refinements:

- Goal hints: an agent not yet planned is assumed to park on its goal from its
  shortest-path arrival on, so earlier agents do not cross its goal late and make it
  wait there (an agent for which that leaves no path is planned without the hints).
  This alone takes the warehouse's 500 agents from about 1.33 to about 1.13 × the
  lower bound.
- Repair: prioritized planning is incomplete — an early agent can park on the only way
  of a later one. An agent that fails is planned again after removing the agents in the
  way of one of its shortest paths, which are then planned again after it; if that
  fails too, planning restarts with the failed agents first.

Where all of this fails (dense maps), `solve` keeps LaCAM's solution.
"""

from __future__ import annotations

import random
import time

from routing.mapf.instance import Instance
from routing.mapf.reservations import NEVER, Reservations
from routing.mapf.sipp import sipp_path

__all__ = ["prioritized"]

REPAIRS = 3
"""Tries to repair one failed agent, each along another random shortest path."""


class _Planner:
    """One round of prioritized planning over a fixed order, with goal hints and repairs."""

    def __init__(self, instance: Instance, rng: random.Random, max_expansions: int) -> None:
        """Reservations start with every agent's goal hint."""
        self.instance = instance
        self.rng = rng
        self.max_expansions = max_expansions
        self.dist = instance.tables()
        self.res = Reservations(instance.cells)
        self.paths: list[list[int] | None] = [None] * len(instance.goals)
        self.bound = 4 * instance.cells + len(instance.goals)
        self.hints: dict[int, int] = {}  # goal cell -> hinted parking time, unplanned agents
        for a, goal in enumerate(instance.goals):
            self.hints[goal] = self.dist[a][instance.starts[a]]
            self.res.park[goal] = self.hints[goal]
            self.res.parker[goal] = a

    def plan(self, a: int) -> bool:
        """Plan agent a among those planned (hints first, then without); reserve its path."""
        inst, res = self.instance, self.res
        goal = inst.goals[a]
        if self.hints.pop(goal, None) is not None:
            res.park[goal], res.parker[goal] = NEVER, -1
        args = (
            inst.neighbours,
            self.dist[a],
            inst.starts[a],
            goal,
            self.bound,
            self.max_expansions,
        )
        path = sipp_path(res, *args)
        if path is None and self.hints:
            for cell in self.hints:
                res.park[cell] = NEVER
            path = sipp_path(res, *args)
            for cell, t in self.hints.items():
                res.park[cell] = t
        if path is None:
            return False
        res.add(a, path)
        self.paths[a] = path
        return True

    def unplan(self, a: int) -> list[int]:
        """Release agent a's path (it keeps no hint: it was planned once)."""
        path = self.paths[a]
        assert path is not None
        self.res.remove(path)
        self.paths[a] = None
        return path

    def repair(self, f: int) -> bool:
        """Plan failed agent f after moving the agents in its way behind it."""
        for _ in range(REPAIRS):
            blockers = self._in_the_way(f)
            old = {b: self.unplan(b) for b in blockers}
            order = list(blockers)
            self.rng.shuffle(order)
            if self.plan(f) and all(self.plan(b) for b in order):
                return True
            for a in (f, *order):
                if self.paths[a] is not None:
                    self.unplan(a)
            for b, path in old.items():
                self.res.add(b, path)
                self.paths[b] = path
        return False

    def _in_the_way(self, f: int) -> set[int]:
        """Agents on or next to a random shortest path of f around the time f would pass."""
        inst, res = self.instance, self.res
        dist = self.dist[f]
        v = inst.starts[f]
        found: set[int] = set()
        t = 0
        while True:
            for dt in (0, 1):
                a = res.holder(v, t + dt)
                if a != -1:
                    found.add(a)
            if v == inst.goals[f]:
                break
            v = self.rng.choice([u for u in inst.neighbours[v] if dist[u] < dist[v]])
            t += 1
        found.discard(f)
        return found


def prioritized(
    instance: Instance,
    deadline: float,
    rng: random.Random,
    *,
    attempts: int = 4,
    max_expansions: int = 20_000,
) -> list[list[int]] | None:
    """Conflict-free paths (cells, t = 0 to arrival) for every agent, or None on failure."""
    n = len(instance.goals)
    order = list(range(n))
    rng.shuffle(order)
    for _ in range(attempts):
        planner = _Planner(instance, rng, max_expansions)
        failed: list[int] = []
        for a in order:
            if time.perf_counter() > deadline:
                return None
            if not planner.plan(a):
                failed.append(a)
                if len(failed) > max(4, n // 20):
                    break  # hopeless in this order: start again with these first
        else:
            failed = [f for f in failed if not planner.repair(f)]
            if not failed:
                return [p for p in planner.paths if p is not None]
        first = set(failed)
        order = failed + [a for a in order if a not in first]
    return None
