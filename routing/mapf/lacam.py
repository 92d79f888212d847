"""LaCAM: lazy search over configurations, with PIBT generating each successor.

LaCAM (Okumura, AAAI 2023) runs a depth-first search whose nodes are configurations
(every agent's cell). A node does not enumerate its successors — there are 5^N — but
keeps a queue of low-level constraint nodes: "agent a goes to cell v, agent b to cell
w, ...", built one agent deeper each time the node is revisited. Each visit pops one
constraint node and asks PIBT for a successor that honours it. When PIBT alone would
loop (a configuration seen before), the search comes back to that configuration and
tries the next constraint, so every successor is eventually generated: the search is
complete — it finds a solution whenever one exists, given time and memory.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable

from routing.mapf.instance import Instance
from routing.mapf.pibt import Pibt, initial_priorities, next_priorities

__all__ = ["LacamStats", "lacam", "paths_from_configs"]

RESTART_RATE = 0.001
"""Chance that a revisit restarts from the initial configuration (LaCAM2's restarts)."""


class _Constraint:
    """A low-level node: the (agent, cell) it adds, linked to its parent constraint."""

    __slots__ = ("agent", "cell", "depth", "parent")

    def __init__(self, parent: _Constraint | None, agent: int, cell: int) -> None:
        """A constraint one deeper than its parent (the root has depth 0 and no pair)."""
        self.parent = parent
        self.agent = agent
        self.cell = cell
        self.depth: int = 0 if parent is None else parent.depth + 1

    def pairs(self) -> list[tuple[int, int]]:
        """The (agent, cell) pairs from the root down to this node."""
        out: list[tuple[int, int]] = []
        node: _Constraint | None = self
        while node is not None and node.parent is not None:
            out.append((node.agent, node.cell))
            node = node.parent
        out.reverse()
        return out


_ROOT = _Constraint(None, -1, -1)


class _Node:
    """A high-level node: a configuration, its parent, PIBT priorities and constraint queue."""

    __slots__ = ("config", "order", "parent", "priorities", "tree")

    def __init__(
        self,
        config: tuple[int, ...],
        parent: _Node | None,
        priorities: list[float],
    ) -> None:
        """Agents ordered by priority, highest first; the queue starts with the empty root."""
        self.config = config
        self.parent = parent
        self.priorities = priorities
        self.order = sorted(range(len(config)), key=priorities.__getitem__, reverse=True)
        self.tree: deque[_Constraint] = deque((_ROOT,))


class LacamStats:
    """Counters of one search: high-level nodes, successors generated, PIBT failures."""

    def __init__(self) -> None:
        """All zero."""
        self.nodes = 0
        self.iterations = 0
        self.failures = 0


def lacam(
    instance: Instance,
    deadline: float,
    rng: random.Random,
    *,
    swap: bool = True,
    stats: LacamStats | None = None,
    on_iteration: Callable[[int], None] | None = None,
) -> list[tuple[int, ...]] | None:
    """Configurations from the starts to the goals, or None when the deadline passes first.

    None is also returned when the search space is exhausted, which proves the instance
    has no solution.
    """
    stats = stats if stats is not None else LacamStats()
    dist = instance.tables()
    n = len(instance.goals)
    starts = tuple(instance.starts)
    goals = tuple(instance.goals)
    pibt = Pibt(instance, rng, swap=swap)
    cand = [(v, *ns) for v, ns in enumerate(instance.neighbours)]
    root = _Node(starts, None, initial_priorities(instance))
    explored: dict[tuple[int, ...], _Node] = {starts: root}
    stack: list[_Node] = [root]
    stats.nodes = 1
    while stack:
        stats.iterations += 1
        if time.perf_counter() > deadline:
            return None
        if on_iteration is not None:
            on_iteration(stats.iterations)
        node = stack[-1]
        if node.config == goals:
            return _backtrack(node)
        if not node.tree:
            stack.pop()
            continue
        low = node.tree.popleft()
        if low.depth < n:
            agent = node.order[low.depth]
            options = list(cand[node.config[agent]])
            rng.shuffle(options)
            node.tree.extend(_Constraint(low, agent, u) for u in options)
        new = pibt.generate(node.config, low.pairs(), node.order)
        if new is None:
            stats.failures += 1
            continue
        known = explored.get(new)
        if known is not None:
            stack.append(root if rng.random() < RESTART_RATE else known)
            continue
        child = _Node(new, node, next_priorities(new, node.priorities, dist))
        explored[new] = child
        stack.append(child)
        stats.nodes += 1
    return None


def _backtrack(node: _Node) -> list[tuple[int, ...]]:
    """The configurations from the root to `node`."""
    out: list[tuple[int, ...]] = []
    cur: _Node | None = node
    while cur is not None:
        out.append(cur.config)
        cur = cur.parent
    out.reverse()
    return out


def paths_from_configs(configs: list[tuple[int, ...]], goals: list[int]) -> list[list[int]]:
    """Each agent's cells from t = 0 to its last arrival at its goal."""
    last = len(configs) - 1
    paths = []
    for i, goal in enumerate(goals):
        cost = last
        while cost > 0 and configs[cost - 1][i] == goal:
            cost -= 1
        paths.append([configs[t][i] for t in range(cost + 1)])
    return paths
