"""Safe-interval path planning (SIPP) for one agent among the fixed paths of the others.

SIPP (Phillips and Likhachev, 2011) searches over (cell, safe interval) pairs instead of
(cell, timestep): a safe interval is a maximal run of timesteps in which nobody else
stands on the cell, and waiting inside one costs no search effort. That matters here:
an agent whose goal another agent crosses late must wait somewhere for a long time,
which space-time A* pays for with one state per cell per waited step.

The safe intervals of a cell are the gaps of its sorted occupied timesteps: interval j
runs from just after the (j-1)-th occupied timestep to just before the j-th (the last
one until the cell's parking time). Moves are unit steps to 4-neighbours; a move from v
to u arriving at t is refused when some agent goes from u to v at the same time (a swap).
The goal is reached in the goal's last safe interval, the one that never ends, so the
agent can stay there forever. A* orders by f = max(arrival + BFS distance, the time the
goal becomes free for good), a consistent heuristic, so the first arrival is the earliest.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Sequence

from routing.mapf.reservations import NEVER, Reservations

__all__ = ["sipp_path"]


def sipp_path(
    res: Reservations,
    neighbours: Sequence[Sequence[int]],
    dist: Sequence[int],
    start: int,
    goal: int,
    max_time: int,
    max_expansions: int,
) -> list[int] | None:
    """The earliest-arriving conflict-free path from start to goal, None if none within limits.

    The path is the agent's cell at t = 0, 1, ... up to its arrival; from then on the goal
    is free of others forever. `max_time` bounds the arrival, `max_expansions` the effort.
    """
    if res.park[goal] != NEVER or dist[start] >= NEVER:
        return None
    at, times, park, parker = res.at, res.times, res.park, res.parker
    cells = len(at)
    occupied = times[start]
    if (occupied and occupied[0] == 0) or park[start] == 0:
        return None
    earliest = occupied[-1] + 1 if (occupied := times[goal]) else 0
    # Root: the start's first safe interval, entered at t = 0.
    hi0 = (occupied[0] - 1) if (occupied := times[start]) else park[start] - 1
    best: dict[int, int] = {start: 0}  # earliest arrival per node; -1 once expanded
    parent: dict[int, tuple[int, int]] = {start: (-1, -1)}
    f0 = max(dist[start], earliest)
    heap: list[tuple[int, int, int, int, int]] = [(f0, dist[start], 0, start, hi0)]
    expansions = 0
    while heap:
        f, _h, t, node, hi = heapq.heappop(heap)
        if best[node] != t:
            continue  # expanded already, or reached earlier since pushed
        if f > max_time:
            return None
        best[node] = -1
        v = node % cells
        if v == goal and hi >= NEVER - 1:
            return _unwind(parent, node, t, cells)
        expansions += 1
        if expansions > max_expansions:
            return None
        t1 = t + 1
        leave = hi + 1  # the latest arrival at a neighbour
        at_v = at[v]
        for u in neighbours[v]:
            occ = times[u]
            n_occ = len(occ)
            j = bisect_left(occ, t1)
            at_u = at[u]
            end = park[u] - 1
            du = dist[u]
            while True:
                lo = occ[j - 1] + 1 if j else 0
                if lo > leave:
                    break
                uhi = occ[j] - 1 if j < n_occ else end
                arrive = t1 if t1 > lo else lo
                last = uhi if uhi < leave else leave
                while arrive <= last:
                    other = at_u.get(arrive - 1)
                    if other is None:
                        break
                    mover = at_v.get(arrive)
                    if mover is None and arrive >= park[v]:
                        mover = parker[v]
                    if mover != other:
                        break
                    arrive += 1  # `other` comes from u to v then: leave one step later
                if arrive <= last:
                    key = u + cells * j
                    if arrive < best.get(key, NEVER):  # never true once expanded (-1)
                        best[key] = arrive
                        parent[key] = (node, t)
                        fu = arrive + du
                        heapq.heappush(
                            heap, (fu if fu > earliest else earliest, du, arrive, key, uhi)
                        )
                if j >= n_occ:
                    break
                j += 1
    return None


def _unwind(parent: dict[int, tuple[int, int]], node: int, t: int, cells: int) -> list[int]:
    """The cell at every timestep from 0 to `t`, waits filled in."""
    out = [node % cells]
    while True:
        prev, t_prev = parent[node]
        if prev == -1:
            break
        # The agent stands on the previous cell from its arrival there until it moves on.
        out.extend([prev % cells] * (t - t_prev))
        node, t = prev, t_prev
    out.reverse()
    return out
