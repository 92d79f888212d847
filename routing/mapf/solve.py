"""`solve`: a first solution by LaCAM (complete) or prioritized planning, then LNS, validated.

1. LaCAM with PIBT finds a first solution — fast, and complete, so dense instances get
   solved too.
2. Prioritized planning with SIPP tries for a better first solution where the map
   leaves room (its sum of costs is usually far below PIBT's); the cheaper one is kept.
3. Large neighbourhood search lowers the sum of costs until the time limit, the lower
   bound, or until it stops paying (less than 0.1 % gained over the last quarter of the
   time spent improving, and at least over the last second; or nothing gained in the
   last 200 + 10 × agents iterations).
4. The solution is checked by `validate_solution` and by the project's plan checker; a
   solution either rejects is never returned: LaCAM's first solution is checked in its
   place, and if that fails too the instance is reported unsolved.
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from maps.movingai import GridMap, ScenarioAgent
from routing.mapf.instance import UNREACHABLE, Instance
from routing.mapf.lacam import LacamStats, lacam, paths_from_configs
from routing.mapf.lns import Lns
from routing.mapf.prioritized import prioritized
from routing.mapf.solution import MapfResult, check_with_plans, pad, validate_solution

__all__ = ["Progress", "check_agents", "lower_bound", "solve"]

STALL_WINDOW = 0.25
"""LNS stops when, over the last STALL_WINDOW of its running time (at least STALL_MIN_S)..."""
STALL_MIN_S = 1.0
STALL_GAIN = 0.001
"""... the sum of costs fell by less than this fraction; or when the last STALL_TRIES
per agent (plus STALL_TRIES_MIN) iterations all failed."""
STALL_TRIES = 10
STALL_TRIES_MIN = 200
PP_SHARE = 0.5
"""At most this share of the time limit goes to prioritized planning."""


@dataclass(frozen=True, slots=True)
class Progress:
    """A report while solving: the phase, the time so far and the best sum of costs."""

    phase: str
    seconds: float
    sum_of_costs: int | None
    lower_bound: int
    iterations: int


def check_agents(grid: GridMap, agents: Sequence[ScenarioAgent]) -> None:
    """ValueError naming the agent when a start or goal is off the grid, blocked or shared."""
    seen: dict[str, dict[tuple[int, int], int]] = {"start": {}, "goal": {}}
    for i, agent in enumerate(agents):
        for what, (x, y) in (("start", agent.start), ("goal", agent.goal)):
            if not grid.is_free(x, y):
                raise ValueError(
                    f"{agent.where(i)}: {what} ({x}, {y}) is blocked or off the"
                    f" {grid.width}×{grid.height} map {grid.name}"
                )
            other = seen[what].setdefault((x, y), i)
            if other != i:
                raise ValueError(
                    f"{agent.where(i)}: {what} ({x}, {y}) is also the {what} of"
                    f" {agents[other].where(other)}"
                )


def lower_bound(grid: GridMap, agents: Sequence[ScenarioAgent]) -> int:
    """Sum over agents of the BFS distance from start to goal on the 4-connected grid."""
    check_agents(grid, agents)
    return Instance(grid, agents).lower_bound() if agents else 0


def solve(
    grid: GridMap,
    agents: Sequence[ScenarioAgent],
    time_limit_s: float,
    seed: int = 0,
    progress: Callable[[Progress], None] | None = None,
    *,
    improve: bool = True,
) -> MapfResult:
    """Solve the one-shot MAPF instance within `time_limit_s`; unsolved if time runs out.

    `improve=False` stops at LaCAM's first solution. `progress` is called after each
    phase and each improvement. Raises ValueError for a malformed instance (see
    `check_agents`).
    """
    t0 = time.perf_counter()
    check_agents(grid, agents)
    if not agents:
        return MapfResult(True, [], 0, 0, 0, time.perf_counter() - t0, method="empty")
    inst = Instance(grid, agents)
    lb = inst.lower_bound()
    for i, (table, start) in enumerate(zip(inst.tables(), inst.starts, strict=True)):
        if table[start] >= UNREACHABLE:
            return _unsolved(
                t0,
                0,
                0,
                f"{agents[i].where(i)}: its goal cannot be reached from"
                " its start (no solution exists)",
            )
    run = _Run(inst, t0, time_limit_s, random.Random(seed), progress, lb)
    stats = LacamStats()
    configs = lacam(
        inst,
        run.deadline,
        run.rng,
        stats=stats,
        on_iteration=lambda k: run.report("lacam", None, k) if k % 4096 == 0 else None,
    )
    if configs is None:
        if time.perf_counter() >= run.deadline:
            return _unsolved(t0, lb, stats.iterations, f"not solved within {time_limit_s:g} s")
        return _unsolved(t0, lb, stats.iterations, "no solution exists (search space exhausted)")
    first = paths_from_configs(configs, inst.goals)
    first_s = time.perf_counter() - t0
    run.found("lacam", first, stats.iterations)
    paths, method, lns_iterations = first, "lacam", 0
    if improve:
        better = run.prioritized()
        if better is not None and _cost(better) < _cost(paths):
            paths, method = better, "pp"
            run.found("pp", paths, stats.iterations)
        paths, lns_iterations = run.improve(paths)
    iterations = stats.iterations + lns_iterations
    solution, problems = _checked(grid, agents, inst, paths)
    message = ""
    if problems and paths is not first:
        # Never reached by a correct planner; then LaCAM's own solution, if it passes.
        message = f"improved solution rejected ({problems[0]}); LaCAM's first one kept"
        paths, method = first, "lacam"
        solution, problems = _checked(grid, agents, inst, paths)
    if problems:
        return _unsolved(t0, lb, iterations, "planner produced an invalid solution: " + problems[0])
    run.report("done", _cost(paths), iterations)
    return MapfResult(
        True,
        solution,
        _cost(paths),
        max(len(p) - 1 for p in paths),
        lb,
        time.perf_counter() - t0,
        iterations,
        _cost(first),
        first_s,
        method,
        message,
        history=run.history,
    )


class _Run:
    """The clock, random source, progress reports and history of one `solve` call."""

    def __init__(
        self,
        inst: Instance,
        t0: float,
        time_limit_s: float,
        rng: random.Random,
        progress: Callable[[Progress], None] | None,
        lb: int,
    ) -> None:
        """Planning must end by `deadline`, which leaves time to validate the solution."""
        self.inst = inst
        self.t0 = t0
        self.time_limit_s = time_limit_s
        self.deadline = t0 + time_limit_s - _validation_margin(time_limit_s, len(inst.goals))
        self.rng = rng
        self.progress = progress
        self.lb = lb
        self.history: list[tuple[float, int]] = []

    def report(self, phase: str, soc: int | None, iterations: int) -> None:
        """Tell the caller's progress callback, if any."""
        if self.progress is not None:
            elapsed = time.perf_counter() - self.t0
            self.progress(Progress(phase, elapsed, soc, self.lb, iterations))

    def found(self, phase: str, paths: list[list[int]], iterations: int) -> None:
        """Record and report a better solution."""
        soc = _cost(paths)
        self.history.append((time.perf_counter() - self.t0, soc))
        self.report(phase, soc, iterations)

    def prioritized(self) -> list[list[int]] | None:
        """Prioritized planning's solution, within its share of the time, if it finds one."""
        if _cost_lb_reached(self.history, self.lb):
            return None
        deadline = min(self.deadline, self.t0 + PP_SHARE * self.time_limit_s)
        return prioritized(self.inst, deadline, self.rng)

    def improve(self, paths: list[list[int]]) -> tuple[list[list[int]], int]:
        """LNS from `paths` until the deadline, the lower bound or a stall; and its iterations."""
        if _cost(paths) <= self.lb:
            return paths, 0
        lns = Lns(self.inst, paths, self.rng)
        start = time.perf_counter()
        tries = STALL_TRIES_MIN + STALL_TRIES * len(paths)
        last_gain = 0
        while lns.sum_of_costs > self.lb and lns.iterations - last_gain < tries:
            now = time.perf_counter()
            if now >= self.deadline or _stalled(self.history, now - self.t0, now - start):
                break
            if lns.iterate():
                last_gain = lns.iterations
                self.found("lns", lns.paths, lns.iterations)
        return lns.paths, lns.iterations


def _cost(paths: list[list[int]]) -> int:
    """Sum of costs of cell paths that end on arrival."""
    return sum(len(p) - 1 for p in paths)


def _cost_lb_reached(history: list[tuple[float, int]], lb: int) -> bool:
    """Whether the best solution so far is optimal (meets the lower bound)."""
    return bool(history) and history[-1][1] <= lb


def _checked(
    grid: GridMap, agents: Sequence[ScenarioAgent], inst: Instance, paths: list[list[int]]
) -> tuple[list[list[tuple[int, int]]], list[str]]:
    """The (x, y) solution, padded, and what our validator and the plan checker say of it."""
    xy = inst.xy
    solution = pad([[xy[v] for v in p] for p in paths])
    return solution, validate_solution(grid, agents, solution) or check_with_plans(solution)


def _stalled(history: list[tuple[float, int]], now: float, running: float) -> bool:
    """Whether the sum of costs fell by less than STALL_GAIN over the recent window."""
    window = max(STALL_MIN_S, STALL_WINDOW * running)
    if running < window:
        return False
    k = bisect_right(history, (now - window, math.inf)) - 1
    then = history[max(k, 0)][1]
    return then - history[-1][1] < STALL_GAIN * then


def _validation_margin(time_limit_s: float, agents: int) -> float:
    """Time kept back for validating the solution (grows with the number of agents)."""
    return min(0.1 * time_limit_s, 0.2 + agents / 1000)


def _unsolved(t0: float, lb: int, iterations: int, message: str) -> MapfResult:
    """An unsolved result: no paths, costs zero, the reason in `message`."""
    return MapfResult(
        False,
        [],
        0,
        0,
        lb,
        time.perf_counter() - t0,
        iterations,
        message=message,
        first_solution_seconds=math.nan,
    )
