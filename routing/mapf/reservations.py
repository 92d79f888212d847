"""Where every planned agent is at each timestep, for planning one more agent among them.

Per cell: a dict from timestep to the agent standing there, the same timesteps as a
sorted list (SIPP reads safe intervals off it: the gaps between occupied timesteps),
and, for an agent that has arrived, the timestep from which it parks on its goal forever.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence

__all__ = ["NEVER", "Reservations"]

NEVER = 1 << 30
"""Parking time of a cell nobody parks on."""


class Reservations:
    """Which agent holds which cell at which timestep; parked agents hold their goal forever."""

    def __init__(self, cells: int) -> None:
        """No agent placed yet."""
        self.at: list[dict[int, int]] = [{} for _ in range(cells)]
        self.times: list[list[int]] = [[] for _ in range(cells)]
        self.park: list[int] = [NEVER] * cells
        self.parker: list[int] = [-1] * cells

    def add(self, agent: int, path: Sequence[int]) -> None:
        """Reserve an agent's path (t = 0 to arrival); it parks on its last cell from then on."""
        at, times = self.at, self.times
        last = len(path) - 1
        for t in range(last):
            v = path[t]
            at[v][t] = agent
            insort(times[v], t)
        goal = path[last]
        self.park[goal] = last
        self.parker[goal] = agent

    def remove(self, path: Sequence[int]) -> None:
        """Release a path added before."""
        at, times = self.at, self.times
        last = len(path) - 1
        for t in range(last):
            v = path[t]
            del at[v][t]
            occupied = times[v]
            del occupied[bisect_left(occupied, t)]
        goal = path[last]
        self.park[goal] = NEVER
        self.parker[goal] = -1

    def holder(self, cell: int, t: int) -> int:
        """The agent on `cell` at timestep t, moving or parked; -1 if none."""
        found = self.at[cell].get(t)
        if found is not None:
            return found
        return self.parker[cell] if t >= self.park[cell] else -1

    def last_visit(self, cell: int) -> int:
        """The last timestep an agent passing `cell` (not parked there) stands on it, else -1."""
        occupied = self.times[cell]
        return occupied[-1] if occupied else -1
