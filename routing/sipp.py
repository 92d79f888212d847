"""Safe-interval path planning (SIPP) for one truck over the cell graph, in continuous time.

States are (resource, safe interval): between two holds of other trucks a resource is
free, and the earliest arrival within each free interval is all that matters (Phillips
and Likhachev 2011). Moving on from a resource needs it to stay free until the truck has
cleared it by its footprint; standing is allowed only where the cell graph says so; a
conflict group must be free for the whole crossing; the goal must be free for ever.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from routing.cells import CellGraph, Run, Speeds
from routing.reservations import ReservationTable

EPS = 1e-7


@dataclass(frozen=True, slots=True)
class Visit:
    """One resource on a planned path: the front arrives at `t_in` and leaves at `t_out`."""

    resource: int
    t_in: float
    t_out: float


@dataclass(slots=True)
class SearchStats:
    """What one search cost."""

    expansions: int = 0


def _within(
    allowed: list[tuple[float, float]], free: list[tuple[float, float]], a: float, b: float
) -> list[tuple[float, float]]:
    """Departure times in `allowed` for which [t + a, t + b] lies inside one free interval."""
    if len(free) == 1 and free[0][0] <= allowed[0][0] + a and math.isinf(free[0][1]):
        return allowed  # free from before the earliest departure, for ever
    out: list[tuple[float, float]] = []
    k = 0
    for s, e in free:
        lo, hi = s - a, e - b
        if hi < lo - EPS:
            continue
        while k < len(allowed) and allowed[k][1] < lo - EPS:
            k += 1
        m = k
        while m < len(allowed) and allowed[m][0] <= hi + EPS:
            x, y = max(allowed[m][0], lo), min(allowed[m][1], hi)
            if y >= x - EPS:
                out.append((x, max(x, y)))
            m += 1
    return out


def search(
    cells: CellGraph,
    table: ReservationTable,
    groups: ReservationTable,
    speeds: Speeds,
    h: list[float],
    start: int,
    t_start: float,
    goal: int,
    start_body: int | None,
    stats: SearchStats,
    max_expansions: int = 200_000,
) -> list[Visit] | None:
    """The earliest-arrival path from `start` (free from `t_start`) to stand at `goal` for ever.

    States are places a truck may stand (cells long enough, service points) with their
    safe intervals; a move is a non-stop run through junctions and short cells, whose
    departure time is chosen so that every resource on the run is free while held.
    """
    safe, gsafe = table.safe, groups.safe
    trav, runs = speeds.traverse, speeds.runs
    group, checks, is_stop = cells.group, cells.checks, cells.is_stop
    first = safe(start)
    i0 = next((i for i, (a, b) in enumerate(first) if a <= t_start + EPS < b), None)
    if i0 is None:
        return None
    body_end = math.inf
    if start_body is not None:
        hit = next(((a, b) for a, b in safe(start_body) if a <= t_start + EPS < b), None)
        if hit is None:
            return None
        body_end = hit[1]
    best: dict[tuple[int, int], float] = {(start, i0): t_start}
    parent: dict[tuple[int, int], tuple[int, int, float, Run]] = {}
    heap = [(t_start + h[start], t_start, start, i0)]
    closed: set[tuple[int, int]] = set()
    budget = stats.expansions + max_expansions
    while heap:
        _, g, r, i = heapq.heappop(heap)
        state = (r, i)
        if state in closed:
            continue
        closed.add(state)
        stats.expansions += 1
        if stats.expansions > budget:
            return None
        if r == goal:
            return _path(parent, state, g)
        iv_end = safe(r)[i][1]
        if r == start:
            iv_end = min(iv_end, body_end)
        t_e = g + trav[r]
        for run in runs[r]:
            last = run.last
            if is_stop[last] and last != goal:
                continue
            if last == goal and not math.isinf(iv_end):
                continue
            allowed = [(t_e, iv_end - run.clear_first)]
            if allowed[0][1] < t_e - EPS:
                continue
            for x, a, b in run.inner:
                allowed = _within(allowed, safe(x), a, b)
                if allowed and group[x] is not None:
                    for gx in checks[x]:
                        allowed = _within(allowed, gsafe(gx), a, b)
                        if not allowed:
                            break
                if not allowed:
                    break
            if not allowed:
                continue
            arrive = run.arrive
            k = 0
            for j, (s2, e2) in enumerate(safe(last)):
                if last == goal and not math.isinf(e2):
                    continue
                lo, hi = s2 - arrive, e2 - arrive  # departures that arrive inside [s2, e2)
                while k < len(allowed) and allowed[k][1] < lo - EPS:
                    k += 1
                if k == len(allowed):
                    break
                t_d = max(allowed[k][0], lo)
                if t_d >= hi - EPS:
                    continue
                key = (last, j)
                t_arr = t_d + arrive
                if key in closed or t_arr >= best.get(key, math.inf) - EPS:
                    continue
                best[key] = t_arr
                parent[key] = (r, i, t_d, run)
                heapq.heappush(heap, (t_arr + h[last], t_arr, last, j))
    return None


def _path(
    parent: dict[tuple[int, int], tuple[int, int, float, Run]],
    state: tuple[int, int],
    t_goal: float,
) -> list[Visit]:
    """Walk back from the goal, unfolding each run: every resource with arrival and departure."""
    visits = [Visit(state[0], t_goal, math.inf)]
    while state in parent:
        r, i, t_d, run = parent[state]
        inner = run.inner
        for k in range(len(inner) - 1, -1, -1):
            x, a, _ = inner[k]
            t_out = t_d + (inner[k + 1][1] if k + 1 < len(inner) else run.arrive)
            visits.append(Visit(x, t_d + a, t_out))
        visits.append(Visit(r, math.nan, t_d))
        state = (r, i)
    visits.reverse()
    # Fill each standing place's arrival from the visit before it.
    out: list[Visit] = []
    for k, v in enumerate(visits):
        t_in = v.t_in if not math.isnan(v.t_in) else (out[k - 1].t_out if k else math.nan)
        out.append(Visit(v.resource, t_in, v.t_out))
    return out
