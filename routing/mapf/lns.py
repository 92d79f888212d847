"""Large neighbourhood search: improve a solution by replanning small groups of agents.

MAPF-LNS (Li et al., IJCAI 2021): take a feasible solution, pick a few agents (the
neighbourhood), forget their paths and replan them one by one, in random order, with
SIPP among everybody else's fixed paths; keep the new paths when their sum of costs is
not higher (equal costs are kept too: such sideways moves let the search leave plateaus,
which pays on dense maps), so the solution stays feasible and never gets worse. Four ways
of picking the agents, chosen adaptively by how much each has recently gained:

- `agent`: an agent that is much later than its shortest path, plus the agents standing
  on its shortest path around the time it would pass;
- `cell`: the agents crossing a random junction cell of the map and junctions near it;
- `random`: agents drawn at random among the delayed ones;
- `single`: one delayed agent alone, replanned around everybody else (in small
  instances a group is often everybody, and prioritized planning may fail for all
  orders where moving one agent alone succeeds).

Each replanned agent gets an arrival deadline that keeps the group's total at most its
old total, so hopeless searches stop early.
"""

from __future__ import annotations

import random

from routing.mapf.instance import Instance
from routing.mapf.reservations import Reservations
from routing.mapf.sipp import sipp_path

__all__ = ["Lns"]

HEURISTICS = ("agent", "cell", "random", "single")
REACTION = 0.1
"""How fast a heuristic's weight follows its recent gains (ALNS reaction factor)."""


class Lns:
    """A feasible solution (one cell list per agent, ending at arrival) being improved."""

    def __init__(
        self,
        instance: Instance,
        paths: list[list[int]],
        rng: random.Random,
        *,
        size: int = 8,
        max_expansions: int = 20_000,
    ) -> None:
        """Reserve every path; `size` agents are replanned per iteration."""
        self.instance = instance
        self.paths = list(paths)  # the caller keeps its own solution
        self.rng = rng
        self.size = max(1, min(size, len(paths)))
        self.max_expansions = max_expansions
        self.dist = instance.tables()
        self.lb = [self.dist[i][s] for i, s in enumerate(instance.starts)]
        self.res = Reservations(instance.cells)
        for i, p in enumerate(paths):
            self.res.add(i, p)
        self.sum_of_costs = sum(len(p) - 1 for p in paths)
        self.weights = dict.fromkeys(HEURISTICS, 1.0)
        self.iterations = 0
        self.accepted = 0
        self.junctions = [v for v, ns in enumerate(instance.neighbours) if len(ns) >= 3]

    def delays(self) -> list[int]:
        """Each agent's cost above its shortest path."""
        return [len(p) - 1 - lb for p, lb in zip(self.paths, self.lb, strict=True)]

    def iterate(self) -> bool:
        """One destroy-and-repair step; True when it lowered the sum of costs."""
        self.iterations += 1
        delays = self.delays()
        late = [i for i, d in enumerate(delays) if d > 0]
        if not late:
            return False
        names = list(self.weights)
        heuristic = self.rng.choices(names, weights=[self.weights[h] for h in names])[0]
        if heuristic == "agent":
            group = self._around_agent(late, delays)
        elif heuristic == "cell":
            group = self._around_cell()
        elif heuristic == "random":
            group = self.rng.sample(late, min(self.size, len(late)))
        else:
            group = [max(self.rng.sample(late, min(4, len(late))), key=delays.__getitem__)]
        if not group:
            return False
        gain = self._replan(group)
        w = self.weights[heuristic]
        self.weights[heuristic] = max(0.01, (1 - REACTION) * w + REACTION * gain)
        return gain > 0

    def _around_agent(self, late: list[int], delays: list[int]) -> list[int]:
        """A delayed agent and the agents on its shortest path near its passing times."""
        rng = self.rng
        a = max(rng.sample(late, min(4, len(late))), key=delays.__getitem__)
        group = {a: None}  # ordered: `a` first, then the agents in its way
        # Whoever passes a's goal after a could have arrived holds a back: they come first.
        goal = self.instance.goals[a]
        visits = sorted(self.res.at[goal].items(), reverse=True)
        for t_visit, other in visits:
            if t_visit < self.lb[a] or len(group) >= self.size:
                break
            group[other] = None
        dist = self.dist[a]
        nbrs = self.instance.neighbours
        at = self.res.at
        v = self.paths[a][0]
        t = 0
        owner = self._parked_owner()
        while v != goal and len(group) < self.size:
            closer = [u for u in nbrs[v] if dist[u] < dist[v]]
            v = rng.choice(closer)
            t += 1
            here = at[v]
            for dt in (0, 1, -1, 2, 3):
                passing = here.get(t + dt)
                if passing is not None and passing not in group:
                    group[passing] = None
                    break
            parked = owner.get(v)
            if parked is not None and parked not in group and len(self.paths[parked]) - 1 <= t:
                group[parked] = None
        return list(group)[: self.size]

    def _parked_owner(self) -> dict[int, int]:
        """For each goal cell, the agent that parks there."""
        return {p[-1]: i for i, p in enumerate(self.paths)}

    def _around_cell(self) -> list[int]:
        """Agents passing a random junction and the cells around it, breadth first."""
        if not self.junctions:
            return []
        rng = self.rng
        start = rng.choice(self.junctions)
        nbrs = self.instance.neighbours
        at = self.res.at
        owner = self._parked_owner()
        seen = {start}
        frontier = [start]
        group: list[int] = []
        members: set[int] = set()
        while frontier and len(group) < self.size:
            v = frontier.pop(0)
            visitors = list(set(at[v].values()))
            if v in owner:
                visitors.append(owner[v])
            rng.shuffle(visitors)
            for a in visitors:
                if a not in members and len(group) < self.size:
                    members.add(a)
                    group.append(a)
            for u in nbrs[v]:
                if u not in seen:
                    seen.add(u)
                    frontier.append(u)
        return group

    def _replan(self, group: list[int]) -> int:
        """Replan `group` in random order; keep the result unless dearer. Returns the gain."""
        res = self.res
        old = {a: self.paths[a] for a in group}
        old_cost = sum(len(p) - 1 for p in old.values())
        for a in group:
            res.remove(old[a])
        order = group.copy()
        self.rng.shuffle(order)
        remaining = sum(self.lb[a] for a in order)
        budget = old_cost  # ties are kept too: sideways moves leave plateaus
        new: dict[int, list[int]] = {}
        inst = self.instance
        for a in order:
            remaining -= self.lb[a]
            limit = budget - remaining
            path = None
            if limit >= self.lb[a]:
                path = sipp_path(
                    res,
                    inst.neighbours,
                    self.dist[a],
                    inst.starts[a],
                    inst.goals[a],
                    limit,
                    self.max_expansions,
                )
            if path is None:
                for p in new.values():
                    res.remove(p)
                for b in group:
                    res.add(b, old[b])
                return 0
            res.add(a, path)
            new[a] = path
            budget -= len(path) - 1
        for a, p in new.items():
            self.paths[a] = p
        gain = old_cost - sum(len(p) - 1 for p in new.values())
        self.sum_of_costs -= gain
        self.accepted += 1
        return gain
