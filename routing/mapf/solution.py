"""MAPF solutions: costs, the independent validator, and the project's plan type.

A solution is one list of (x, y) cells per agent, one entry per timestep from t = 0; a
path shorter than the longest is read as standing on its last cell. `validate_solution`
checks a solution from first principles — it shares nothing with the planners — and
`check_with_plans` hands the same solution, as `routing.plan.Plan`s, to the project's
own plan checker, so a solution is accepted only when both agree it is conflict-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from maps.movingai import GridMap, ScenarioAgent
from routing.plan import Plan, ResourceKind, Step

__all__ = [
    "MapfResult",
    "Path",
    "check_with_plans",
    "costs",
    "pad",
    "to_plans",
    "validate_solution",
]

Cell = tuple[int, int]
Path = list[Cell]
MAX_MESSAGES = 20
"""At most this many problems are listed one by one; the rest are counted."""


@dataclass(frozen=True, slots=True)
class MapfResult:
    """What `solve` found: paths per agent (padded to one length), their costs, the bound."""

    solved: bool
    paths: list[Path]
    sum_of_costs: int
    makespan: int
    lower_bound: int
    seconds: float
    iterations: int = 0
    """LaCAM iterations plus large-neighbourhood-search iterations."""
    initial_sum_of_costs: int = 0
    """Sum of costs of the first solution found, before improvement."""
    first_solution_seconds: float = math.nan
    method: str = ""
    """How the first solution was found: `pp` (prioritized planning) or `lacam`."""
    message: str = ""
    """Why the instance is unsolved, or notes on the solution."""
    history: list[tuple[float, int]] = field(default_factory=list)
    """(seconds, sum of costs) each time a better solution was found."""

    @property
    def soc_over_lb(self) -> float:
        """Sum of costs over the lower bound (1.0 for an empty instance, nan if unsolved)."""
        if not self.solved:
            return math.nan
        return self.sum_of_costs / self.lower_bound if self.lower_bound else 1.0


def costs(paths: Sequence[Sequence[Cell]]) -> list[int]:
    """Each agent's cost: the timestep it last arrives on its final cell."""
    out = []
    for path in paths:
        last = len(path) - 1
        while last > 0 and path[last - 1] == path[-1]:
            last -= 1
        out.append(last)
    return out


def pad(paths: Sequence[Sequence[Cell]]) -> list[Path]:
    """Every path extended by standing on its last cell, to the length of the longest."""
    length = max((len(p) for p in paths), default=0)
    return [list(p) + [p[-1]] * (length - len(p)) for p in paths]


def _where(agents: Sequence[ScenarioAgent], i: int) -> str:
    """`agent i (file:line)` for messages."""
    a = agents[i] if i < len(agents) else None
    return f"agent {i}" + (f" ({a.where()})" if a is not None and a.line is not None else "")


def validate_solution(
    grid: GridMap, agents: Sequence[ScenarioAgent], paths: Sequence[Sequence[Cell]]
) -> list[str]:
    """Every way the paths fail to solve the instance; an empty list means a valid solution.

    Checked: one path per agent, starting on its start and ending on its goal; every
    cell on the grid and free; every move a wait or a unit 4-connected step; no two
    agents on one cell at one timestep (vertex conflict) and no two agents exchanging
    cells between two timesteps (swap conflict). Shorter paths stand on their last cell.
    """
    problems: list[str] = []
    if len(paths) != len(agents):
        return [f"{len(paths)} paths for {len(agents)} agents"]
    comparable = True  # conflicts can be looked for: every path non-empty and on the grid
    for i, (agent, path) in enumerate(zip(agents, paths, strict=True)):
        who = _where(agents, i)
        if not path:
            problems.append(f"{who}: empty path")
            comparable = False
            continue
        if tuple(path[0]) != tuple(agent.start):
            problems.append(f"{who}: starts at {tuple(path[0])}, not at its start {agent.start}")
        if tuple(path[-1]) != tuple(agent.goal):
            problems.append(f"{who}: ends at {tuple(path[-1])}, not at its goal {agent.goal}")
        for t, (x, y) in enumerate(path):
            if not grid.is_free(x, y):
                problems.append(f"{who}: t={t}: ({x}, {y}) is blocked or off the grid")
                comparable = comparable and grid.in_bounds(x, y)
        for t in range(1, len(path)):
            (x0, y0), (x1, y1) = path[t - 1], path[t]
            if abs(x1 - x0) + abs(y1 - y0) > 1:
                problems.append(
                    f"{who}: t={t}: jumps from ({x0}, {y0}) to ({x1}, {y1}),"
                    " not a unit 4-connected move"
                )
    if comparable and paths:
        problems += _conflicts(grid, agents, paths)
    return _capped(problems)


def _conflicts(
    grid: GridMap, agents: Sequence[ScenarioAgent], paths: Sequence[Sequence[Cell]]
) -> list[str]:
    """Vertex and swap conflicts of well-formed paths, found with array sorts."""
    padded = np.array(pad(paths), dtype=np.int64)  # (agents, T, 2)
    cells = padded[:, :, 1] * grid.width + padded[:, :, 0]  # (agents, T)
    length = cells.shape[1]
    size = grid.width * grid.height
    out: list[str] = []
    times = np.arange(length, dtype=np.int64)
    keys = (times[None, :] * size + cells).ravel()
    order = np.argsort(keys, kind="stable")
    same = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    for k in same.tolist():
        (a, t), b = divmod(int(order[k]), length), int(order[k + 1]) // length
        x, y = int(padded[a, t, 0]), int(padded[a, t, 1])
        out.append(
            f"vertex conflict at t={t}: {_where(agents, a)} and {_where(agents, b)} on ({x}, {y})"
        )
    if length > 1:
        src, dst = cells[:, :-1], cells[:, 1:]
        moving = src != dst
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        edge = (times[None, :-1] * size + lo) * size + hi
        ai, ti = np.nonzero(moving)
        ekeys = edge[ai, ti]
        order = np.argsort(ekeys, kind="stable")
        same = np.flatnonzero(ekeys[order][1:] == ekeys[order][:-1])
        for k in same.tolist():
            a, b = int(ai[order[k]]), int(ai[order[k + 1]])
            t = int(ti[order[k]])
            if cells[a, t] == cells[b, t]:
                continue  # same direction: already a vertex conflict
            (x0, y0), (x1, y1) = padded[a, t].tolist(), padded[a, t + 1].tolist()
            out.append(
                f"swap conflict at t={t}->{t + 1}: {_where(agents, a)} ({x0}, {y0})->"
                f"({x1}, {y1}) and {_where(agents, b)} the other way"
            )
    return out


def _capped(problems: list[str]) -> list[str]:
    """The first MAX_MESSAGES problems and a count of the rest."""
    if len(problems) <= MAX_MESSAGES:
        return problems
    return [*problems[:MAX_MESSAGES], f"... and {len(problems) - MAX_MESSAGES} more"]


def to_plans(paths: Sequence[Sequence[Cell]], names: Sequence[str] | None = None) -> list[Plan]:
    """Grid paths as plans: one node step per stay, `x,y`, the goal held until infinity."""
    plans = []
    for i, path in enumerate(paths):
        steps: list[Step] = []
        enter = 0
        for t in range(1, len(path) + 1):
            if t == len(path) or path[t] != path[enter]:
                x, y = path[enter]
                exit_ = math.inf if t == len(path) else float(t)
                steps.append(Step(f"{x},{y}", ResourceKind.NODE, float(enter), exit_))
                enter = t
        plans.append(Plan.of(names[i] if names else f"agent{i}", steps))
    return plans


def check_with_plans(paths: Sequence[Sequence[Cell]]) -> list[str]:
    """The project's plan checker's verdict on the paths as plans (its conflicts as text)."""
    from routing.checker import check_plans

    return [str(c) for c in check_plans(to_plans(paths))]
