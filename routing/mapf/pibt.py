"""PIBT, the one-step planner: from one configuration to the next, agents in priority order.

Priority inheritance with backtracking (Okumura et al., 2022): an agent takes the free
neighbour (or its own cell) closest to its goal; if another agent stands there and has
not moved yet, that agent inherits the priority and must move away first, or the first
agent tries its next choice. With the swap emulation of LaCAM2 (Okumura, 2023), an agent
facing another head-on in a corridor reverses its preferences and pulls the other one
through, which plain PIBT cannot do.

`Pibt.generate` is LaCAM's configuration generator: some agents' next cells are fixed by
constraints first, PIBT moves the rest. The recursive closure works on flat lists only,
since it runs hundreds of thousands of times per instance. Priority inheritance recurses
at most once per agent, so the interpreter's recursion limit is raised to a few times
the number of agents when it is lower.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence

from routing.mapf.instance import Instance

__all__ = ["Pibt", "initial_priorities", "next_priorities", "pibt_only"]


class Pibt:
    """PIBT over an instance, reusable across configurations (its buffers are kept)."""

    def __init__(self, instance: Instance, rng: random.Random, *, swap: bool = True) -> None:
        """Bind the instance's neighbour lists and distance tables to the recursive step."""
        self.instance = instance
        self.rng = rng
        agents = len(instance.goals)
        cells = instance.cells
        self.now: list[int] = [0] * agents
        self.nxt: list[int] = [-1] * agents
        self.occ_now: list[int] = [-1] * cells
        self.occ_next: list[int] = [-1] * cells
        self.tie: list[float] = [0.0] * cells
        self._step = self._make_step(instance, swap)
        need = 4 * agents + 1000
        if sys.getrecursionlimit() < need:
            sys.setrecursionlimit(need)

    def _make_step(self, instance: Instance, swap: bool) -> Callable[[int], bool]:
        """The recursive PIBT function as a closure over the shared buffers."""
        now, nxt = self.now, self.nxt
        occ_now, occ_next = self.occ_now, self.occ_next
        tie = self.tie
        dist = instance.tables()
        goals = instance.goals
        nbrs = instance.neighbours
        cand = [(v, *ns) for v, ns in enumerate(nbrs)]
        dead_end = [len(ns) == 1 for ns in nbrs]

        def blocked(u: int, v_pusher: int) -> bool:
            """Whether a swap cannot use neighbour u: the pusher's cell, or a parked dead end."""
            if u == v_pusher:
                return True
            a = occ_now[u]
            return dead_end[u] and a != -1 and goals[a] == u

        def swap_required(pusher: int, puller: int, v_pusher: int, v_puller: int) -> bool:
            """Whether pusher and puller face each other in a corridor and must swap."""
            dp = dist[pusher]
            while dp[v_puller] < dp[v_pusher]:
                n = 0
                tmp = -1
                for u in nbrs[v_puller]:
                    if not blocked(u, v_pusher):
                        n += 1
                        tmp = u
                if n >= 2:
                    return False  # the corridor widens: they can pass without swapping
                if n <= 0:
                    break
                v_pusher, v_puller = v_puller, tmp
            dl = dist[puller]
            return dl[v_pusher] < dl[v_puller] and (
                dp[v_pusher] == 0 or dp[v_puller] < dp[v_pusher]
            )

        def swap_possible(v_pusher_origin: int, v_puller_origin: int) -> bool:
            """Whether pulling along the corridor reaches a cell wide enough to swap."""
            v_pusher, v_puller = v_pusher_origin, v_puller_origin
            while v_puller != v_pusher_origin:
                n = 0
                tmp = -1
                for u in nbrs[v_puller]:
                    if not blocked(u, v_pusher):
                        n += 1
                        tmp = u
                if n >= 2:
                    return True
                if n <= 0:
                    return False
                v_pusher, v_puller = v_puller, tmp
            return False

        def swap_agent(i: int, best: int) -> int:
            """The agent i should pull through instead of pushing (-1: none)."""
            v = now[i]
            if best == v:
                return -1
            aj = occ_now[best]
            if (
                aj != -1
                and nxt[aj] == -1
                and swap_required(i, aj, v, best)
                and swap_possible(best, v)
            ):
                return aj
            for u in nbrs[v]:
                ak = occ_now[u]
                if ak == -1 or u == best:
                    continue
                if swap_required(ak, i, v, best) and swap_possible(best, v):
                    return ak
            return -1

        def step(i: int) -> bool:
            """Move agent i one step (or keep it), pushing lower agents away; False if stuck."""
            v = now[i]
            d = dist[i]
            cs = sorted(cand[v], key=lambda u: d[u] + tie[u])
            pulled = -1
            if swap:
                pulled = swap_agent(i, cs[0])
                if pulled != -1:
                    cs.reverse()
            for k, u in enumerate(cs):
                if occ_next[u] != -1:
                    continue
                ak = occ_now[u]
                if ak != -1 and nxt[ak] == v:
                    continue  # a swap conflict
                occ_next[u] = i
                nxt[i] = u
                if ak >= 0 and ak != i and nxt[ak] == -1 and not step(ak):
                    continue
                if k == 0 and pulled != -1 and nxt[pulled] == -1 and occ_next[v] == -1:
                    nxt[pulled] = v
                    occ_next[v] = pulled
                return True
            occ_next[v] = i
            nxt[i] = v
            return False

        return step

    def generate(
        self,
        config: Sequence[int],
        constraints: Sequence[tuple[int, int]],
        order: Sequence[int],
    ) -> tuple[int, ...] | None:
        """The next configuration after `config`, agents in `order`, `constraints` fixed first.

        `constraints` are (agent, next cell) pairs; None when they collide with each other
        or PIBT cannot move every agent without a conflict.
        """
        now, nxt, occ_now, occ_next = self.now, self.nxt, self.occ_now, self.occ_next
        for a, v in enumerate(now):
            if occ_now[v] == a:
                occ_now[v] = -1
            w = nxt[a]
            if w != -1:
                occ_next[w] = -1
                nxt[a] = -1
        now[:] = config
        for a, v in enumerate(config):
            occ_now[v] = a
        rnd = self.rng.random
        tie = self.tie
        for c in range(len(tie)):
            tie[c] = rnd()
        for a, v in constraints:
            if occ_next[v] != -1:
                return None
            pre = config[a]
            b = occ_next[pre]
            if b != -1 and occ_now[v] == b:
                return None
            nxt[a] = v
            occ_next[v] = a
        step = self._step
        for a in order:
            if nxt[a] == -1 and not step(a):
                return None
        return tuple(nxt)


def initial_priorities(instance: Instance) -> list[float]:
    """Start priorities below 1, larger for agents farther from their goals (tie-breaks)."""
    dist = instance.tables()
    cells = max(instance.cells, 1)
    return [dist[i][v] / cells for i, v in enumerate(instance.starts)]


def next_priorities(
    config: Sequence[int], previous: list[float], dist: list[list[int]]
) -> list[float]:
    """PIBT's dynamic priorities: +1 per step off the goal, back to the fraction on it."""
    out = previous.copy()
    for i, v in enumerate(config):
        p = out[i]
        out[i] = p + 1.0 if dist[i][v] else p - int(p)
    return out


def pibt_only(
    instance: Instance, max_steps: int, rng: random.Random, *, swap: bool = True
) -> list[tuple[int, ...]] | None:
    """PIBT alone, step after step: the configurations to the goals, None if not within steps.

    Incomplete: agents can circle forever (a livelock); LaCAM wraps it to be complete.
    """
    pibt = Pibt(instance, rng, swap=swap)
    dist = instance.tables()
    goals = tuple(instance.goals)
    config = tuple(instance.starts)
    priorities = initial_priorities(instance)
    configs = [config]
    for _ in range(max_steps):
        if config == goals:
            return configs
        order = sorted(range(len(config)), key=priorities.__getitem__, reverse=True)
        nxt = pibt.generate(config, (), order)
        if nxt is None:
            return None
        config = nxt
        configs.append(config)
        priorities = next_priorities(config, priorities, dist)
    return configs if config == goals else None
