"""MovingAI grid maps and scenarios, the MAPF community's benchmark format.

A map file is four header lines (`type octile`, `height H`, `width W`, `map`) and then H
rows of W characters. Following the MovingAI spec, `.` and `G` (ground) and `S` (swamp)
are passable; `@` and `O` (out of bounds), `T` (trees) and `W` (water, which only
boats could cross) are not.

A scenario file is a `version 1` line and then one agent a line, nine tab-separated
fields: bucket, map file, map width, map height, start x, start y, goal x, goal y and
the optimal single-agent octile distance. x is the column and y the row, both from 0
at the top left, so cell (x, y) is `free[y, x]`.

Every format problem raises `MapFormatError` with `file:line: what is wrong`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import numpy.typing as npt

from maps.errors import MapFormatError

__all__ = [
    "BLOCKED_CHARS",
    "FREE_CHARS",
    "GridMap",
    "MapFormatError",
    "ScenarioAgent",
    "check_scenario",
    "parse_map",
    "parse_scenario",
    "read_map",
    "read_scenario",
]

BoolArray = npt.NDArray[np.bool_]
Cell = tuple[int, int]

FREE_CHARS = ".GS"
"""Map characters of passable cells: ground, ground, swamp."""
BLOCKED_CHARS = "@OTW"
"""Map characters of blocked cells: out of bounds (twice), trees, water."""

_FREE_CODES = np.array([ord(c) for c in FREE_CHARS], dtype=np.uint32)
_KNOWN_CODES = np.array([ord(c) for c in FREE_CHARS + BLOCKED_CHARS], dtype=np.uint32)
_INT = re.compile(r"[+-]?[0-9]+")
_SCEN_FIELDS = 9


@dataclass(frozen=True, slots=True)
class GridMap:
    """A MovingAI grid: which cells a truck may occupy, as a read-only (height, width) array."""

    name: str
    width: int
    height: int
    free: BoolArray

    def __post_init__(self) -> None:
        """Check the array fits the size and freeze a view of it, so the map stays frozen."""
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"{self.name}: size {self.width}×{self.height} is not positive")
        if self.free.shape != (self.height, self.width) or self.free.dtype != np.bool_:
            raise ValueError(
                f"{self.name}: free must be a bool array of shape ({self.height}, {self.width}),"
                f" got {self.free.dtype} {self.free.shape}"
            )
        view = self.free.view()
        view.setflags(write=False)
        object.__setattr__(self, "free", view)

    def __eq__(self, other: object) -> bool:
        """Same name, size and cells (the generated __eq__ cannot compare arrays)."""
        if not isinstance(other, GridMap):
            return NotImplemented
        return (
            self.name == other.name
            and self.width == other.width
            and self.height == other.height
            and bool(np.array_equal(self.free, other.free))
        )

    def __hash__(self) -> int:
        """Hash of name, size and cells, consistent with __eq__ (arrays are unhashable)."""
        return hash((self.name, self.width, self.height, self.free.tobytes()))

    def in_bounds(self, x: int, y: int) -> bool:
        """Whether column x, row y lies on the grid."""
        return 0 <= x < self.width and 0 <= y < self.height

    def is_free(self, x: int, y: int) -> bool:
        """Whether cell (x, y) is passable; cells off the grid are not."""
        return self.in_bounds(x, y) and bool(self.free[y, x])

    @property
    def cell_count(self) -> int:
        """Number of free cells, the nodes of `graph()`."""
        return int(np.count_nonzero(self.free))

    def graph(self) -> nx.Graph:
        """A new undirected 4-connected graph: (x, y) free cells, unit edges to free neighbours."""
        g = nx.Graph(name=self.name)
        ys, xs = np.nonzero(self.free)
        g.add_nodes_from(zip(xs.tolist(), ys.tolist(), strict=True))
        # A free cell and its free right neighbour, then its free lower neighbour.
        hy, hx = np.nonzero(self.free[:, :-1] & self.free[:, 1:])
        vy, vx = np.nonzero(self.free[:-1, :] & self.free[1:, :])
        hxl, hyl = hx.tolist(), hy.tolist()
        vxl, vyl = vx.tolist(), vy.tolist()
        g.add_edges_from(((x, y), (x + 1, y)) for x, y in zip(hxl, hyl, strict=True))
        g.add_edges_from(((x, y), (x, y + 1)) for x, y in zip(vxl, vyl, strict=True))
        return g


@dataclass(frozen=True, slots=True)
class ScenarioAgent:
    """One line of a scenario: an agent's start and goal cells, (x, y), and its optimal length.

    `map_width`/`map_height` are the map size the scenario claims (for `check_scenario`);
    `source`/`line` say where the agent was read, for error messages, and take no part in
    equality.
    """

    bucket: int
    map_name: str
    start: Cell
    goal: Cell
    optimal_length: float
    map_width: int | None = None
    map_height: int | None = None
    source: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    def where(self, index: int | None = None) -> str:
        """`file:line` of the agent when known, else `agent #index`, to prefix messages."""
        if self.source is not None and self.line is not None:
            return f"{self.source}:{self.line}"
        if self.source is not None:
            return self.source if index is None else f"{self.source}: agent #{index}"
        return "<scen>" if index is None else f"agent #{index}"


def _read_text(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The text of a file and its name for messages; undecodable bytes are a format error."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), p.name
    except UnicodeDecodeError as exc:
        raise MapFormatError(
            f"{p.name}: not a UTF-8 text file ({exc.reason} at byte {exc.start})"
        ) from None


def read_map(path: str | os.PathLike[str]) -> GridMap:
    """Read a MovingAI `.map` file; the map is named after the file, as scenarios name it."""
    text, name = _read_text(path)
    return parse_map(text, name)


def _header_int(name: str, lineno: int, line: str, key: str) -> int:
    """The positive integer of a `height N` / `width N` header line."""
    parts = line.split()
    if len(parts) != 2 or parts[0] != key:
        raise MapFormatError(f"{name}:{lineno}: expected '{key} N', found {line!r}")
    if not _INT.fullmatch(parts[1]) or int(parts[1]) <= 0:
        raise MapFormatError(f"{name}:{lineno}: {key} {parts[1]!r} is not a positive integer")
    return int(parts[1])


def parse_map(text: str, name: str = "<map>") -> GridMap:
    """Parse the text of a MovingAI map; `name` names it and prefixes every error message."""
    lines = text.splitlines()
    height, width = _map_header(lines, name)
    rows = _map_rows(lines, name, height, width)
    # One code point per cell, so a whole map is checked and classified in a few array passes.
    codes = np.frombuffer("".join(rows).encode("utf-32-le"), dtype="<u4").reshape(height, width)
    known = np.isin(codes, _KNOWN_CODES)
    if not known.all():
        y, x = (int(v) for v in np.argwhere(~known)[0])
        raise MapFormatError(
            f"{name}:{y + 5}: unknown character {rows[y][x]!r} at column {x + 1} (cell ({x}, {y}));"
            f" expected one of {FREE_CHARS + BLOCKED_CHARS!r}"
        )
    return GridMap(name, width, height, np.isin(codes, _FREE_CODES))


def _map_header(lines: list[str], name: str) -> tuple[int, int]:
    """The height and width a map's four header lines give."""
    header = ["type octile", "height N", "width N", "map"]
    if len(lines) < len(header):
        raise MapFormatError(
            f"{name}:{len(lines) + 1}: file ends in the header, expected {header[len(lines)]!r}"
        )
    if lines[0].split() != ["type", "octile"]:
        raise MapFormatError(f"{name}:1: expected 'type octile', found {lines[0]!r}")
    size: dict[str, int] = {}
    for lineno in (2, 3):
        line = lines[lineno - 1]
        key = line.split()[0] if line.split() else ""
        if key not in ("height", "width") or key in size:
            want = "width" if "height" in size else "height"
            raise MapFormatError(f"{name}:{lineno}: expected '{want} N', found {line!r}")
        size[key] = _header_int(name, lineno, line, key)
    if lines[3].strip() != "map":
        raise MapFormatError(f"{name}:4: expected 'map', found {lines[3]!r}")
    return size["height"], size["width"]


def _map_rows(lines: list[str], name: str, height: int, width: int) -> list[str]:
    """A map's rows after its header: `height` of them, each `width` characters."""
    rows = [line.rstrip() for line in lines[4:]]
    while rows and not rows[-1]:
        rows.pop()  # blank lines at the end are not rows
    for r, row in enumerate(rows):
        if r >= height:
            raise MapFormatError(
                f"{name}:{r + 5}: more rows than the height {height} (row {r + 1} of {len(rows)})"
            )
        if len(row) != width:
            raise MapFormatError(f"{name}:{r + 5}: row has {len(row)} characters, expected {width}")
    if len(rows) < height:
        raise MapFormatError(f"{name}:{len(rows) + 5}: map has {len(rows)} rows, expected {height}")
    return rows


def read_scenario(path: str | os.PathLike[str]) -> list[ScenarioAgent]:
    """Read a MovingAI `.scen` file, one agent a line, in file order."""
    text, name = _read_text(path)
    return parse_scenario(text, name)


def _field_int(where: str, what: str, value: str) -> int:
    """One integer field of a scenario line, or a format error naming the field."""
    if not _INT.fullmatch(value.strip()):
        raise MapFormatError(f"{where}: {what} {value!r} is not an integer")
    return int(value)


def parse_scenario(text: str, name: str = "<scen>") -> list[ScenarioAgent]:
    """Parse the text of a MovingAI scenario; checks each start and goal against its map size."""
    lines = text.splitlines()
    if not lines or lines[0].split() not in (["version", "1"], ["version", "1.0"]):
        found = repr(lines[0]) if lines else "an empty file"
        raise MapFormatError(f"{name}:1: expected 'version 1', found {found}")
    return [
        _scenario_agent(line, name, lineno)
        for lineno, line in enumerate(lines[1:], start=2)
        if line.strip()
    ]


def _scenario_agent(line: str, name: str, lineno: int) -> ScenarioAgent:
    """The agent on one (non-blank) line of a scenario."""
    where = f"{name}:{lineno}"
    fields = line.split("\t")
    if len(fields) != _SCEN_FIELDS:
        raise MapFormatError(
            f"{where}: expected {_SCEN_FIELDS} tab-separated fields (bucket, map, width,"
            f" height, start x, start y, goal x, goal y, optimal length),"
            f" found {len(fields)}"
        )
    bucket = _field_int(where, "bucket", fields[0])
    map_name = fields[1].strip()
    if not map_name:
        raise MapFormatError(f"{where}: map file name is empty")
    width = _field_int(where, "map width", fields[2])
    height = _field_int(where, "map height", fields[3])
    if width <= 0 or height <= 0:
        raise MapFormatError(f"{where}: map size {width}×{height} is not positive")
    start = (_field_int(where, "start x", fields[4]), _field_int(where, "start y", fields[5]))
    goal = (_field_int(where, "goal x", fields[6]), _field_int(where, "goal y", fields[7]))
    try:
        optimal = float(fields[8])
    except ValueError:
        raise MapFormatError(f"{where}: optimal length {fields[8]!r} is not a number") from None
    if not math.isfinite(optimal) or optimal < 0:
        raise MapFormatError(f"{where}: optimal length {fields[8]!r} is not a finite number ≥ 0")
    for what, (x, y) in (("start", start), ("goal", goal)):
        if not (0 <= x < width and 0 <= y < height):
            raise MapFormatError(f"{where}: {what} ({x}, {y}) is outside the {width}×{height} map")
    return ScenarioAgent(bucket, map_name, start, goal, optimal, width, height, name, lineno)


def check_scenario(grid: GridMap, agents: Iterable[ScenarioAgent]) -> None:
    """Check a scenario fits a map: same size, every start and goal on the grid and free."""
    for index, agent in enumerate(agents):
        where = agent.where(index)
        if (agent.map_width is not None and agent.map_width != grid.width) or (
            agent.map_height is not None and agent.map_height != grid.height
        ):
            raise MapFormatError(
                f"{where}: scenario map size {agent.map_width}×{agent.map_height} differs from"
                f" {grid.name}, {grid.width}×{grid.height}"
            )
        for what, (x, y) in (("start", agent.start), ("goal", agent.goal)):
            if not grid.in_bounds(x, y):
                raise MapFormatError(
                    f"{where}: {what} ({x}, {y}) is outside the {grid.width}×{grid.height}"
                    f" map {grid.name}"
                )
            if not grid.free[y, x]:
                raise MapFormatError(
                    f"{where}: {what} ({x}, {y}) is on a blocked cell of {grid.name}"
                )
