"""The MAPF tracker's solution format: one string of moves per agent, in scenario order.

`u` is y−1, `d` y+1, `l` x−1, `r` x+1 and `w` a wait, x being the column and y the row of
the map; the waits an agent makes at its goal after its last arrival are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MOVES", "MovesFormatError", "from_moves", "to_moves"]

Cell = tuple[int, int]

MOVES: dict[str, Cell] = {"u": (0, -1), "d": (0, 1), "l": (-1, 0), "r": (1, 0), "w": (0, 0)}
"""Each move letter and its (dx, dy)."""
_LETTER = {step: letter for letter, step in MOVES.items()}


class MovesFormatError(ValueError):
    """A move string that cannot be read: names the agent and the offending position."""


def to_moves(paths: Sequence[Sequence[Cell]]) -> list[str]:
    """Each path as a move string, trailing waits stripped; a jump raises ValueError."""
    out = []
    for i, path in enumerate(paths):
        letters = []
        for t in range(1, len(path)):
            (x0, y0), (x1, y1) = path[t - 1], path[t]
            letter = _LETTER.get((x1 - x0, y1 - y0))
            if letter is None:
                raise ValueError(
                    f"agent {i}: t={t}: ({x0}, {y0}) to ({x1}, {y1}) is not a unit move"
                )
            letters.append(letter)
        out.append("".join(letters).rstrip("w"))
    return out


def from_moves(starts: Sequence[Cell], moves: Sequence[str]) -> list[list[Cell]]:
    """The paths that move strings describe, from the agents' starts (not padded)."""
    if len(starts) != len(moves):
        raise MovesFormatError(f"{len(moves)} move strings for {len(starts)} agents")
    paths = []
    for i, (start, line) in enumerate(zip(starts, moves, strict=True)):
        x, y = start
        path = [(x, y)]
        for k, letter in enumerate(line.strip()):
            step = MOVES.get(letter)
            if step is None:
                raise MovesFormatError(
                    f"agent {i}: move {k + 1} is {letter!r}, expected one of 'udlrw'"
                )
            x, y = x + step[0], y + step[1]
            path.append((x, y))
        paths.append(path)
    return paths
